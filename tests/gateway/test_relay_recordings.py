"""Real provider streams (../shared/data/wire) replayed by the simulator and relayed by the gateway.

Each recording is a shape some provider really sends: tool-call argument deltas, parallel calls,
n=3 interleaving, Groq's ``x_groq.usage``, vLLM's per-chunk cumulative usage, OpenRouter comment
lines, a mid-stream error. The client must get OpenAI's format with usage exactly once, and every
top-level field the upstream sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencompress.simulator import default_recordings_dir
from opencompress.wire.sse import SSEDecoder
from support.gateway import Gateway

WIRE = default_recordings_dir()
pytestmark = pytest.mark.skipif(
    WIRE is None, reason="../shared/data/wire is absent: recordings cannot be replayed"
)
MESSAGES = [{"role": "user", "content": "replay"}]


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.seed(usd="5.00").key


def _events(text: str) -> list[str]:
    """The ``data:`` payloads of an answer; SSE comments (keep-alives) are not events."""
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(text.encode()) + decoder.close()]


def _recorded_chunks(name: str) -> list[dict[str, Any]]:
    assert WIRE is not None
    decoder = SSEDecoder()
    events = decoder.feed((Path(WIRE) / name).read_bytes()) + decoder.close()
    out = []
    for event in events:
        if event.data and event.data != "[DONE]":
            try:
                out.append(json.loads(event.data))
            except ValueError:
                pass
    return out


def _relay(
    gateway: Gateway, key: str, name: str, simulate_extra: dict[str, Any] | None = None, **extra: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    simulate = {"replay": name, **(simulate_extra or {})}
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True, "simulate": simulate, **extra}
    with httpx.Client(timeout=30) as c:
        r = c.post(
            gateway.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    assert r.status_code == 200
    events = _events(r.text)
    chunks = [json.loads(e) for e in events if e != "[DONE]"]
    return r, chunks


def _arguments(chunks: list[dict[str, Any]]) -> dict[tuple[int, int], str]:
    args: dict[tuple[int, int], str] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                fn = call.get("function") or {}
                slot = (choice.get("index", 0), call.get("index", 0))
                args[slot] = args.get(slot, "") + (fn.get("arguments") or "")
    return args


def _text(chunks: list[dict[str, Any]]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content") or ""
            out[choice.get("index", 0)] = out.get(choice.get("index", 0), "") + piece
    return out


@pytest.mark.parametrize(
    "name",
    [
        "openai/chat_stream_tool_call.sse",
        "openai/chat_stream_tool_calls_parallel.sse",
        "openai/chat_stream_tool_call_args_split.sse",
        "openai/chat_stream_tool_call_strict.sse",
        "groq/chat_stream_tool_call_x_groq_usage.sse",
        "vllm/chat_stream_tool_call_continuous_usage.sse",
        "openai/chat_stream_n3_include_usage.sse",
        "openai/chat_stream_text_include_usage.sse",
        "openai/chat_stream_text_usage_null_per_chunk.sse",
        "openai/chat_stream_json_long.sse",
        "openai/chat_stream_logprobs.sse",
        "openai/chat_stream_refusal.sse",
        "openai/chat_stream_finish_length.sse",
    ],
)
@pytest.mark.parametrize("include_usage", [False, True])
def test_complete_recordings_relay_content_and_usage_once(
    gateway: Gateway, key: str, name: str, include_usage: bool
) -> None:
    extra = {"stream_options": {"include_usage": True}} if include_usage else {}
    r, chunks = _relay(gateway, key, name, **extra)
    assert r.text.endswith("data: [DONE]\n\n")
    recorded = _recorded_chunks(name)
    assert _arguments(chunks) == _arguments(recorded)
    assert _text(chunks) == _text(recorded)
    assert {c["id"] for c in chunks} == {r.headers["x-request-id"]}
    with_usage = [c for c in chunks if c.get("usage")]
    assert len(with_usage) == 1, "usage must arrive exactly once"
    if include_usage:
        assert with_usage[0]["choices"] == [] and with_usage[0] is chunks[-1]
    else:
        assert all(c["choices"] for c in chunks)
        assert with_usage[0]["choices"][0]["finish_reason"] is not None
    recorded_usage = next(
        (
            c.get("usage") or c.get("x_groq", {}).get("usage")
            for c in reversed(recorded)
            if c.get("usage") or c.get("x_groq")
        ),
        None,
    )
    if recorded_usage:
        assert with_usage[0]["usage"]["completion_tokens"] == recorded_usage["completion_tokens"]
        assert with_usage[0]["usage"]["prompt_tokens"] == recorded_usage["prompt_tokens"]
    for field in ("object", "created", "model", "system_fingerprint", "service_tier"):
        if field in recorded[-1]:  # every top-level field the upstream sent is kept, usage chunk included
            assert with_usage[0][field] == recorded[-1][field], field
    if include_usage and "usage" in recorded[0]:  # OpenAI's "usage": null on every other chunk stays
        assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    if not include_usage:
        assert all("usage" not in c for c in chunks if c is not with_usage[0])


def test_openrouter_comments_become_keep_alives_and_truncation_is_reported(
    gateway: Gateway, key: str
) -> None:
    r, chunks = _relay(
        gateway,
        key,
        "openrouter/chat_stream_processing_comments_partial.sse",
        simulate_extra={"latency_s": 0.05},
    )
    assert "OPENROUTER PROCESSING" not in r.text
    assert r.text.startswith(": keep-alive\n\n"), "the queued request shows the client it is alive"
    assert _text(chunks[:-1]) == _text(
        _recorded_chunks("openrouter/chat_stream_processing_comments_partial.sse")
    )
    assert "error" in chunks[-1] and "data: [DONE]" not in r.text


def test_midstream_error_recording_becomes_one_error_event(gateway: Gateway, key: str) -> None:
    r, chunks = _relay(gateway, key, "openai/chat_stream_midstream_error.sse")
    errors = [c for c in chunks if "error" in c]
    assert len(errors) == 1 and errors[0] is chunks[-1]
    assert "server had an error" in errors[0]["error"]["message"]
    assert "data: [DONE]" not in r.text


def test_non_streaming_recordings_pass_through_with_gateway_id(gateway: Gateway, key: str) -> None:
    for name in ("openai/chat_completion_tool_call.json", "openai/chat_completion_text_gpt41.json"):
        body = {"model": "gpt-4o", "messages": MESSAGES, "simulate": {"replay": name}}
        with httpx.Client(timeout=30) as c:
            r = c.post(
                gateway.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
            )
        assert r.status_code == 200
        got = r.json()
        assert WIRE is not None
        recorded = json.loads((Path(WIRE) / name).read_text())
        assert got["id"] == r.headers["x-request-id"]
        assert got["choices"] == recorded["choices"]
        assert got["usage"]["prompt_tokens"] == recorded["usage"]["prompt_tokens"]
