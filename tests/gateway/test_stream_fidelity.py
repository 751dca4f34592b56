"""The streaming relay against upstream streams that are valid but unusual, and against failures.

End-to-end cases craft the upstream's exact bytes with the simulator's ``garbage`` fault (its
``body`` is answered verbatim) and read the gateway's answer raw or through the openai SDK; the
decoder and relay cases that need a precise network chunking drive them directly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from opencompress.gateway.restore import ResponseRestorer
from opencompress.simulator import default_recordings_dir
from opencompress.wire.sse import SSEDecoder, SSEEvent
from support.gateway import Gateway, Seeded

MESSAGES = [{"role": "user", "content": "hi"}]
ROOT = "/home/runner/work/projects/opencompress_demo/src/package"
HEAD = {
    "id": "chatcmpl-x",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-4o-mini",
}
USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
WIRE = default_recordings_dir()


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any
) -> str:
    """One upstream ``data:`` event (with its blank line) for choice 0."""
    choice = {
        "index": 0,
        "delta": delta or {},
        "logprobs": None,
        "finish_reason": finish,
    }
    return (
        "data: "
        + json.dumps({**HEAD, **top, "choices": [choice]}, ensure_ascii=False)
        + "\n\n"
    )


def usage_chunk(usage: dict[str, Any] = USAGE, **top: Any) -> str:
    return (
        "data: " + json.dumps({**HEAD, **top, "choices": [], "usage": usage}) + "\n\n"
    )


ANSWER = (
    chunk({"role": "assistant", "content": ""})
    + chunk({"content": "Hello there."})
    + chunk({}, "stop")
)


@pytest.fixture(scope="module")
def seeded(gateway: Gateway) -> Seeded:
    return gateway.seed(usd="5.00")


def post(
    gateway: Gateway,
    key: str,
    upstream_body: str,
    *,
    include_usage: bool = False,
    messages: Sequence[dict[str, Any]] = MESSAGES,
) -> httpx.Response:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": list(messages),
        "stream": True,
        "simulate": {"fault": "garbage", "body": upstream_body},
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    with httpx.Client(timeout=30) as c:
        r = c.post(
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    return r


def data_events(text: str) -> list[str]:
    """The ``data:`` payloads of a gateway answer (comments left out)."""
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(text.encode()) + decoder.close()]


def chunks_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(d) for d in data_events(text) if d != "[DONE]"]


def delivered(chunks: list[dict[str, Any]], field: str = "content") -> str:
    return "".join(
        (c.get("delta") or {}).get(field) or ""
        for ch in chunks
        for c in ch.get("choices") or []
    )


def row_status(gateway: Gateway, seeded: Seeded, request_id: str) -> str:
    rows = {r.request_id: r for r in gateway.usage(seeded.account_id)}
    return str(rows[request_id].status)


def assert_one_error_at_end(r: httpx.Response) -> dict[str, Any]:
    chunks = chunks_of(r.text)
    errors = [c for c in chunks if "error" in c]
    assert len(errors) == 1 and errors[0] is chunks[-1], r.text[-400:]
    assert "[DONE]" not in data_events(r.text)
    return dict(errors[0]["error"])


# 2. Line endings --------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_and_crlf_line_endings_relay_like_lf(
    gateway: Gateway, seeded: Seeded, ending: str
) -> None:
    upstream = (ANSWER + usage_chunk() + "data: [DONE]\n\n").replace("\n", ending)
    r = post(gateway, seeded.key, upstream, include_usage=True)
    assert r.text.endswith("data: [DONE]\n\n")
    assert delivered(chunks_of(r.text)) == "Hello there."
    assert row_status(gateway, seeded, r.headers["x-request-id"]) == "ok"


STREAM = (
    "\ufeff: hello\n\n"
    + chunk({"role": "assistant", "content": "caf\u00e9 \u00a7"})
    + 'event: message\nid: 7\nretry: 10\ndata: {"a":\ndata:  1}\n\n'
    + "data\n\ndata:x\n\n"
    + "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SSEEvent(chunk({"role": "assistant", "content": "caf\u00e9 \u00a7"})[6:-2]),
    SSEEvent('{"a":\n 1}', "message"),
    SSEEvent(""),
    SSEEvent("x"),
    SSEEvent("[DONE]"),
]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_decoder_gives_the_same_events_wherever_the_stream_is_split(
    ending: bytes,
) -> None:
    """Every split point, including inside a UTF-8 sequence, the byte-order mark and a ``\\r\\n``."""
    stream = STREAM.replace(b"\n", ending)
    for cut in range(len(stream) + 1):
        decoder = SSEDecoder()
        events = (
            decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.close()
        )
        assert events == EXPECTED, cut
        assert decoder.comment


def test_decoder_work_is_linear_in_the_bytes_fed() -> None:
    """A 4 MB line in 256-byte reads, and 40 000 events in one read: quadratic buffering took
    seconds (every read re-copied the buffer, every event re-sliced it); linear takes milliseconds."""
    line = b"data: " + b"x" * 4_000_000
    many = b"data: {}\n\n" * 40_000

    def feed_all() -> int:
        decoder = SSEDecoder()
        n = 0
        for i in range(0, len(line), 256):
            n += len(decoder.feed(line[i : i + 256]))
        n += len(decoder.feed(b"\n\n"))
        return n + len(decoder.feed(many)) + len(decoder.close())

    start = time.perf_counter()
    assert feed_all() == 40_001
    assert time.perf_counter() - start < 1.0


# 6. Alias restoration ------------------------------------------------------------------------------


def alias_messages() -> list[dict[str, Any]]:
    """A conversation the balanced level compresses with one alias, ``§AA`` for :data:`ROOT`."""
    output = "\n".join(
        f"{ROOT}/mod_{c}.py: warning: something long happened here"
        for c in "abcdefghijkl"
    )
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "run", "arguments": "{}"},
    }
    return [
        {"role": "user", "content": "Fix the tests please."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": output},
    ]


def test_refusal_and_reasoning_are_alias_restored(
    gateway: Gateway, seeded: Seeded
) -> None:
    upstream = (
        chunk({"role": "assistant", "content": None, "refusal": ""})
        + chunk({"reasoning_content": "look at \u00a7A"})
        + chunk({"reasoning_content": "A/mod_a.py", "reasoning": "\u00a7AA/x"})
        + chunk({"refusal": "I won't touch \u00a7"})
        + chunk({"refusal": "AA/mod_b.py"})
        + chunk({}, "stop")
        + "data: [DONE]\n\n"
    )
    r = post(gateway, seeded.key, upstream, messages=alias_messages())
    assert "aliases" in r.headers["x-opencompress-stages"]
    chunks = chunks_of(r.text)
    assert delivered(chunks, "refusal") == f"I won't touch {ROOT}/mod_b.py"
    assert delivered(chunks, "reasoning_content") == f"look at {ROOT}/mod_a.py"
    assert delivered(chunks, "reasoning") == f"{ROOT}/x"


def test_non_streamed_refusal_is_alias_restored() -> None:
    choice = {
        "message": {
            "role": "assistant",
            "content": None,
            "refusal": "no \u00a7AA",
            "reasoning": "\u00a7AA",
        }
    }
    ResponseRestorer({"\u00a7AA": ROOT}).message(choice)
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": f"no {ROOT}",
        "reasoning": ROOT,
    }
