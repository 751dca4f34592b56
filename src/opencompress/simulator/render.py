"""Render a :class:`~opencompress.simulator.generate.Plan` in OpenAI's exact wire format.

Shapes follow the recordings in ``shared/data/wire/openai/``: the first stream chunk carries
``delta: {"role": "assistant", "content": "", "refusal": null}`` (``content: null`` plus the tool
call's id/type/name and ``arguments: ""`` for a tool call), content arrives a few tokens per chunk,
``n`` choices are interleaved round-robin, each choice then gets a finish chunk with ``delta: {}``,
and with ``stream_options.include_usage`` every chunk carries ``"usage": null`` and a final
usage-only chunk has ``choices: []`` (current OpenAI behaviour). Without include_usage no chunk
has a ``usage`` key at all.
"""

from __future__ import annotations

import json
from typing import Any

from opencompress.simulator.generate import ENCODING, ChoicePlan, Plan
from opencompress.simulator.ids import SYSTEM_FINGERPRINT
from opencompress.tokens import get_encoding

DONE_EVENT = b"data: [DONE]\n\n"
CONTENT_GROUPS = (2, 1, 3)  # tokens per content delta, cycled: "a few tokens each", deterministic
ARGUMENT_GROUPS = (1, 2)  # tool arguments arrive in smaller fragments, like the recordings


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def sse_event(obj: Any) -> bytes:
    return b"data: " + dumps(obj).encode() + b"\n\n"


def token_pieces(text: str, groups: tuple[int, ...]) -> list[str]:
    """Split ``text`` on o200k token boundaries into pieces of ``groups[i % len]`` tokens.

    A piece is only closed on a valid UTF-8 boundary, so multi-byte characters split across tokens
    are never emitted half-way (real streams never contain broken characters either).
    """
    enc = get_encoding(ENCODING)
    pieces: list[str] = []
    buffer = b""
    in_buffer = 0
    for token in enc.encode_ordinary(text):
        buffer += enc.decode_single_token_bytes(token)
        in_buffer += 1
        if in_buffer >= groups[len(pieces) % len(groups)]:
            try:
                pieces.append(buffer.decode("utf-8"))
            except UnicodeDecodeError:
                continue
            buffer, in_buffer = b"", 0
    if buffer:
        pieces.append(buffer.decode("utf-8", errors="replace"))
    return pieces


def _message(choice: ChoicePlan) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if choice.tool_call is not None:
        call = choice.tool_call
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
        ]
    message["refusal"] = None
    message["annotations"] = []
    return message


def render_completion(plan: Plan, completion_id: str, created: int) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": plan.model,
        "choices": [
            {"index": c.index, "message": _message(c), "logprobs": None, "finish_reason": c.finish_reason}
            for c in plan.choices
        ],
        "usage": plan.usage(),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }


def _deltas(choice: ChoicePlan) -> list[dict[str, Any]]:
    call = choice.tool_call
    if call is None:
        first: dict[str, Any] = {"role": "assistant", "content": "", "refusal": None}
        return [first] + [{"content": piece} for piece in token_pieces(choice.content or "", CONTENT_GROUPS)]
    head = {"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
    first = {"role": "assistant", "content": None, "tool_calls": [head], "refusal": None}
    return [first] + [
        {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}
        for fragment in token_pieces(call.arguments, ARGUMENT_GROUPS)
    ]


def render_stream_events(plan: Plan, completion_id: str, created: int) -> list[bytes]:
    """Every ``data:`` event of the stream, in order, without the final ``[DONE]``."""
    base: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }

    def chunk(choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        body = dict(base, choices=choices)
        if plan.include_usage:
            body["usage"] = usage
        return sse_event(body)

    per_choice = [_deltas(c) for c in plan.choices]
    events: list[bytes] = []
    longest = max(len(d) for d in per_choice)
    for step in range(longest):
        for choice, deltas in zip(plan.choices, per_choice, strict=True):
            if step < len(deltas):
                entry = {
                    "index": choice.index,
                    "delta": deltas[step],
                    "logprobs": None,
                    "finish_reason": None,
                }
                events.append(chunk([entry]))
    for choice in plan.choices:
        events.append(
            chunk(
                [
                    {
                        "index": choice.index,
                        "delta": {},
                        "logprobs": None,
                        "finish_reason": choice.finish_reason,
                    }
                ]
            )
        )
    if plan.include_usage:
        events.append(chunk([], plan.usage()))
    return events
