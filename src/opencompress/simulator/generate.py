"""Deterministic answer generation: turn a chat request into what a model "would" answer.

The simulator must behave like a real model on the parameters clients actually use (``n``,
``max_tokens``, ``stop``, ``tools``/``tool_choice``, ``response_format``), yet be exactly
reproducible so tests can assert on it. Every answer is a pure function of the request: the text
describes what arrived (message count, o200k prompt tokens, an excerpt of the last user message), so
a user running the gateway against the simulator sees compression at work in the reply itself.

Token accounting uses :mod:`opencompress.tokens` (o200k) for both prompt and completion, the same
counter the gateway uses, so ``usage`` from the simulator and the gateway's own counts agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opencompress.simulator.ids import call_id
from opencompress.simulator.openai_errors import invalid_request
from opencompress.simulator.tools import fill_schema
from opencompress.tokens import count_messages, count_text, get_encoding

# Spelled out: get_encoding() is lru_cached, so a bare call would build a second copy of the ranks.
ENCODING = "o200k_base"

MAX_N = 128
_WORDS = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChoicePlan:
    """One choice's final output: either ``content`` or a ``tool_call``, and why it stopped."""

    index: int
    content: str | None
    tool_call: ToolCall | None
    finish_reason: str
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Plan:
    model: str
    stream: bool
    include_usage: bool
    prompt_tokens: int
    choices: tuple[ChoicePlan, ...]

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def plan_completion(body: Mapping[str, Any], call_id_seed: str) -> Plan:
    """Validate ``body`` lightly (OpenAI-style 400s) and decide every choice's output."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("you must provide a model parameter", param="model")
    messages = _messages(body)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise invalid_request(
            f"Invalid type for 'stream': expected a boolean, got {stream!r}.", param="stream"
        )
    n = _int_param(body, "n", default=1, low=1, high=MAX_N)
    limit = _token_limit(body)
    stops = _stop_sequences(body.get("stop"))
    tool = select_tool(body)
    prompt_tokens = count_messages(messages)
    stream_options = body.get("stream_options")
    include_usage = bool(
        stream and isinstance(stream_options, Mapping) and stream_options.get("include_usage")
    )
    choices = []
    for index in range(n):
        if tool is not None:
            choices.append(_tool_choice(index, tool, limit, f"{call_id_seed}:{index}"))
        else:
            text = _answer_text(body, messages, prompt_tokens, model, index, n)
            choices.append(_text_choice(index, text, limit, stops))
    return Plan(model, bool(stream), include_usage, prompt_tokens, tuple(choices))


def _messages(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise invalid_request(
            "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    if not isinstance(messages, list):
        raise invalid_request(
            f"Invalid type for 'messages': expected an array, got {type(messages).__name__}.",
            param="messages",
        )
    if not messages:
        raise invalid_request("[] is too short - 'messages'", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise invalid_request(
                f"Missing required parameter: 'messages[{i}].role'.", param=f"messages[{i}].role"
            )
    return messages


def _int_param(body: Mapping[str, Any], name: str, *, default: int, low: int, high: int | None) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_request(f"Invalid type for '{name}': expected an integer.", param=name)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid_request(f"Invalid '{name}': {value}. Expected a value {bound}.", param=name)
    return value


def _token_limit(body: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        if body.get(name) is not None:
            return _int_param(body, name, default=0, low=1, high=None)
    return None


def _stop_sequences(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return [s for s in stop if s]
    raise invalid_request("Invalid type for 'stop': expected a string or an array of strings.", param="stop")


def select_tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The function definition the "model" calls, or None for a text answer (OpenAI's rules)."""
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        if choice is not None:
            raise invalid_request(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                param="tool_choice",
            )
        return None
    if not isinstance(tools, list):
        raise invalid_request("Invalid type for 'tools': expected an array.", param="tools")
    functions: list[Mapping[str, Any]] = [
        t["function"] for t in tools if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)
    ]
    if not functions or choice == "none":
        return None
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        wanted = choice["function"].get("name")
        for function in functions:
            if function.get("name") == wanted:
                return function
        raise invalid_request(
            f"Invalid value for 'tool_choice': no function named '{wanted}' was specified "
            "in the 'tools' parameter.",
            param="tool_choice",
        )
    if choice is not None and choice not in ("auto", "required") and not isinstance(choice, Mapping):
        raise invalid_request(f"Invalid value for 'tool_choice': {choice!r}.", param="tool_choice")
    last_user = _last_user_text(body.get("messages") or []).lower()
    for function in functions:
        name = function.get("name")
        if isinstance(name, str) and name and name.lower() in last_user:
            return function
    return functions[0]


def _tool_choice(index: int, function: Mapping[str, Any], limit: int | None, seed: str) -> ChoicePlan:
    name = str(function.get("name") or "function")
    parameters = function.get("parameters")
    arguments = json.dumps(
        fill_schema(parameters, name=name) if parameters else {}, separators=(",", ":"), ensure_ascii=False
    )
    name_tokens = count_text(name)
    finish = "tool_calls"
    if limit is not None and name_tokens + count_text(arguments) > limit:
        arguments, _ = truncate_tokens(arguments, max(0, limit - name_tokens))
        finish = "length"
    call = ToolCall(call_id(seed), name, arguments)
    return ChoicePlan(index, None, call, finish, name_tokens + count_text(arguments))


def _text_choice(index: int, text: str, limit: int | None, stops: Sequence[str]) -> ChoicePlan:
    finish = "stop"
    cut = min((p for p in (text.find(s) for s in stops) if p >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
    if limit is not None:
        text, truncated = truncate_tokens(text, limit)
        if truncated:
            finish = "length"
    return ChoicePlan(index, text, None, finish, count_text(text))


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The longest prefix of ``text`` that is at most ``limit`` o200k tokens, cut on token boundaries."""
    enc = get_encoding(ENCODING)
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= limit:
        return text, False
    keep = limit
    while True:
        prefix = enc.decode_bytes(tokens[:keep]).decode("utf-8", errors="ignore")
        if keep == 0 or count_text(prefix) <= limit:
            return prefix, True
        keep -= 1


def _answer_text(
    body: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    prompt_tokens: int,
    model: str,
    index: int,
    n: int,
) -> str:
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "json_schema":
        spec = response_format.get("json_schema") if isinstance(response_format, Mapping) else None
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return json.dumps(
            fill_schema(schema or {"type": "object"}), separators=(",", ":"), ensure_ascii=False
        )
    if kind == "json_object":
        payload = {
            "simulated": True,
            "model": model,
            "messages": len(messages),
            "prompt_tokens": prompt_tokens,
            "choice": index,
            "note": "Deterministic JSON from the OpenCompress upstream simulator.",
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return describe_request(messages, prompt_tokens, model, index, n)


def describe_request(
    messages: Sequence[Mapping[str, Any]], prompt_tokens: int, model: str, index: int, n: int
) -> str:
    """The plain-text answer: what arrived, so compression is visible in the reply itself."""
    roles: dict[str, int] = {}
    for message in messages:
        role = str(message.get("role"))
        roles[role] = roles.get(role, 0) + 1
    summary = ", ".join(f"{count} {role}" for role, count in roles.items())
    plural = "" if len(messages) == 1 else "s"
    parts = [
        "Simulated answer from the OpenCompress upstream simulator: "
        f"received {len(messages)} message{plural} "
        f"({summary}), {prompt_tokens} prompt tokens (o200k) for model {model}."
    ]
    excerpt = _excerpt(_last_user_text(messages))
    if excerpt:
        parts.append(f'The last user message begins: "{excerpt}".')
    parts.append(
        "No real model was called; set OPENCOMPRESS_UPSTREAM_BASE_URL to forward to a real provider."
    )
    if n > 1:
        parts.append(f"(choice {index + 1} of {n})")
    return " ".join(parts)


def _last_user_text(messages: Sequence[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(p.get("text")) for p in content if isinstance(p, Mapping) and p.get("type") == "text"
                )
    return ""


def _excerpt(text: str, words: int = 12, chars: int = 80) -> str:
    found = _WORDS.findall(text)
    excerpt = " ".join(found[:words])
    if len(excerpt) > chars:
        excerpt = excerpt[: chars - 1].rstrip() + "…"
    elif len(found) > words:
        excerpt += " …"
    return excerpt
