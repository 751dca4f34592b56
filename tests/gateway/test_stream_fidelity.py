"""The streaming relay against upstream streams that are valid but unusual, and against failures.

End-to-end cases craft the upstream's exact bytes with the simulator's ``garbage`` fault (its
``body`` is answered verbatim) and read the gateway's answer raw or through the openai SDK; the
decoder and relay cases that need a precise network chunking drive them directly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import openai
import pytest

from opencompress.gateway.restore import ResponseRestorer
from opencompress.gateway.stream import ChatStreamRelay, StreamTally
from opencompress.simulator import default_recordings_dir
from opencompress.wire.sse import SSEDecoder, SSEEvent
from support.gateway import Gateway, Seeded

MESSAGES = [{"role": "user", "content": "hi"}]
ROOT = "/home/runner/work/projects/opencompress_demo/src/package"
HEAD = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
WIRE = default_recordings_dir()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> str:
    """One upstream ``data:`` event (with its blank line) for choice 0."""
    choice = {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}
    return "data: " + json.dumps({**HEAD, **top, "choices": [choice]}, ensure_ascii=False) + "\n\n"


def usage_chunk(usage: dict[str, Any] = USAGE, **top: Any) -> str:
    return "data: " + json.dumps({**HEAD, **top, "choices": [], "usage": usage}) + "\n\n"


ANSWER = chunk({"role": "assistant", "content": ""}) + chunk({"content": "Hello there."}) + chunk({}, "stop")


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
            gateway.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
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
    return "".join((c.get("delta") or {}).get(field) or "" for ch in chunks for c in ch.get("choices") or [])


def usage_row(gateway: Gateway, seeded: Seeded, request_id: str) -> Any:
    """The request's usage row. The settle is spawned once the server has finished the response,
    which can be a moment after the client read its end, so wait for the row to appear."""
    deadline = time.monotonic() + 10
    while True:
        rows = {row.request_id: row for row in gateway.usage(seeded.account_id)}
        if request_id in rows or time.monotonic() > deadline:
            return rows[request_id]
        time.sleep(0.01)


def assert_one_error_at_end(r: httpx.Response) -> dict[str, Any]:
    chunks = chunks_of(r.text)
    errors = [c for c in chunks if "error" in c]
    assert len(errors) == 1 and errors[0] is chunks[-1], r.text[-400:]
    assert "[DONE]" not in data_events(r.text)
    return dict(errors[0]["error"])


# 1. End of stream ---------------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["data: [DONE]", "data: [DONE]\n", "data: [DONE]\r", "data: [DONE]\r\n"])
def test_done_without_its_blank_line_ends_a_complete_stream(
    gateway: Gateway, seeded: Seeded, tail: str
) -> None:
    r = post(gateway, seeded.key, ANSWER + usage_chunk() + tail, include_usage=True)
    assert r.text.endswith("data: [DONE]\n\n")
    chunks = chunks_of(r.text)
    assert not any("error" in c for c in chunks)
    assert delivered(chunks) == "Hello there."
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert usage_row(gateway, seeded, r.headers["x-request-id"]).status == "ok"


def test_a_last_event_without_its_blank_line_is_still_delivered(gateway: Gateway, seeded: Seeded) -> None:
    """No ``[DONE]``: the stream is incomplete, but the last content the upstream sent is relayed."""
    last = chunk({"content": " The end."}).rstrip("\n")
    r = post(gateway, seeded.key, ANSWER.rsplit("data: ", 1)[0] + last)
    error = assert_one_error_at_end(r)
    assert error["code"] == "upstream_incomplete_stream"
    assert delivered(chunks_of(r.text)) == "Hello there. The end."


def test_a_last_event_cut_off_mid_json_is_an_incomplete_stream(gateway: Gateway, seeded: Seeded) -> None:
    r = post(gateway, seeded.key, ANSWER.rsplit("data: ", 1)[0] + chunk({"content": "x"})[:40])
    assert assert_one_error_at_end(r)["code"] == "upstream_incomplete_stream"


# 2. Line endings --------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["\r", "\r\n"])
def test_cr_and_crlf_line_endings_relay_like_lf(gateway: Gateway, seeded: Seeded, ending: str) -> None:
    upstream = (ANSWER + usage_chunk() + "data: [DONE]\n\n").replace("\n", ending)
    r = post(gateway, seeded.key, upstream, include_usage=True)
    assert r.text.endswith("data: [DONE]\n\n")
    assert delivered(chunks_of(r.text)) == "Hello there."
    assert usage_row(gateway, seeded, r.headers["x-request-id"]).status == "ok"


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
def test_decoder_gives_the_same_events_wherever_the_stream_is_split(ending: bytes) -> None:
    """Every split point, including inside a UTF-8 sequence, the byte-order mark and a ``\\r\\n``."""
    stream = STREAM.replace(b"\n", ending)
    for cut in range(len(stream) + 1):
        decoder = SSEDecoder()
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.close()
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


# 3. Error signals ---------------------------------------------------------------------------------


ERROR_STREAMS = {
    "event_error_without_error_key": chunk({"role": "assistant", "content": "Hel"})
    + 'event: error\ndata: {"message":"Overloaded","code":529}\n\n'
    + "data: [DONE]\n\n",
    "event_error_anthropic_shape": chunk({"role": "assistant", "content": "Hel"})
    + 'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"Overloaded"}}\n\n',
    "openrouter_error_chunk_with_choices": chunk({"role": "assistant", "content": "Hel"})
    + chunk({"content": ""}, "error", error={"code": "server_error", "message": "Overloaded"})
    + "data: [DONE]\n\n",
}


@pytest.mark.parametrize("name", list(ERROR_STREAMS))
def test_upstream_error_signals_end_the_stream_with_one_error_event(
    gateway: Gateway, seeded: Seeded, name: str
) -> None:
    r = post(gateway, seeded.key, ERROR_STREAMS[name], include_usage=True)
    error = assert_one_error_at_end(r)
    assert "Overloaded" in error["message"] and error["code"] == "upstream_stream_error"
    chunks = chunks_of(r.text)
    assert delivered(chunks) == "Hel"
    assert not any(c.get("usage") for c in chunks), "no usage of the gateway's making on a broken stream"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    row = usage_row(gateway, seeded, r.headers["x-request-id"])
    assert row.status == "upstream_error"
    assert row.output_tokens > 0 and row.charged_micros > 0, "billed for what was delivered"
    with pytest.raises(openai.APIError, match="Overloaded"):
        for _ in gateway.client(seeded.key).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            extra_body={"simulate": {"fault": "garbage", "body": ERROR_STREAMS[name]}},
        ):
            pass


def test_an_error_key_set_to_null_is_not_an_error(gateway: Gateway, seeded: Seeded) -> None:
    r = post(
        gateway, seeded.key, chunk({"content": "ok"}, error=None) + chunk({}, "stop") + "data: [DONE]\n\n"
    )
    assert r.text.endswith("data: [DONE]\n\n") and delivered(chunks_of(r.text)) == "ok"


# 4. Keep-alive comments --------------------------------------------------------------------------


class Upstream:
    """A stand-in for :class:`UpstreamResponse` that yields the given network reads."""

    def __init__(self, reads: Sequence[bytes]) -> None:
        self._reads = reads

    async def chunks(self) -> AsyncIterator[bytes]:
        for read in self._reads:
            yield read


def relay(
    reads: Sequence[str | bytes], *, include_usage: bool = False, aliases: dict[str, str] | None = None
) -> tuple[list[bytes], StreamTally]:
    tally = StreamTally()
    stream = ChatStreamRelay(
        response=Upstream([r.encode() if isinstance(r, str) else r for r in reads]),  # type: ignore[arg-type]
        request_id="gen-test",
        client_wants_usage_chunk=include_usage,
        restorer=ResponseRestorer(aliases) if aliases else None,
        fallback_prompt_tokens=5,
        tally=tally,
    )

    async def run() -> list[bytes]:
        return [out async for out in stream]

    return asyncio.run(run()), tally


def test_upstream_comments_become_keep_alive_comments_before_any_data() -> None:
    sent, tally = relay(
        [": OPENROUTER PROCESSING\n\n", ": OPENROUTER PROCESSING\n\n", ANSWER, "data: [DONE]\n\n"]
    )
    assert sent[:2] == [b": keep-alive\n\n"] * 2
    assert b"OPENROUTER" not in b"".join(sent)
    assert tally.status == "ok" and b"".join(sent).endswith(b"data: [DONE]\n\n")


def test_a_comment_in_a_read_that_also_brings_data_adds_nothing() -> None:
    sent, _ = relay([": ping\n\n" + ANSWER + "data: [DONE]\n\n"])
    assert b"keep-alive" not in b"".join(sent)


def test_keep_alive_reaches_the_client_while_the_upstream_is_queued(gateway: Gateway, seeded: Seeded) -> None:
    if WIRE is None:
        pytest.skip("../shared/data/wire is absent")
    body = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "stream": True,
        "simulate": {"replay": "openrouter/chat_stream_processing_comments_partial.sse", "latency_s": 0.05},
    }
    headers = {"Authorization": f"Bearer {seeded.key}"}
    with (
        httpx.Client(timeout=30) as c,
        c.stream("POST", gateway.base_url + "/chat/completions", json=body, headers=headers) as r,
    ):
        reads = list(r.iter_raw())
    first, rest = reads[0], b"".join(reads[1:])
    assert first.startswith(b": keep-alive\n\n"), reads[:3]
    assert b"OPENROUTER" not in first + rest and b"data: " in rest
    # and the SDK never sees a comment as data: it parses every chunk, then raises on the truncation
    got: list[str] = []
    with pytest.raises(openai.APIError):
        for part in gateway.client(seeded.key).chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            extra_body={"simulate": body["simulate"]},
        ):
            got.append(part.choices[0].delta.content or "")
    assert "".join(got) == "\u4e9a"


# 5. Top-level fields and per-chunk usage -----------------------------------------------------------


FIELDS = {"service_tier": "default", "system_fingerprint": "fp_51e1070cf2", "obfuscation": "Zx9"}


def fielded_stream(*, per_chunk_usage: Any) -> str:
    extra = {**FIELDS, "usage": per_chunk_usage}
    return (
        chunk({"role": "assistant", "content": ""}, **extra)
        + chunk({"content": "Hello there."}, **extra)
        + chunk({}, "stop", **extra)
        + usage_chunk(**FIELDS)
        + "data: [DONE]\n\n"
    )


def test_usage_chunk_keeps_the_upstreams_top_level_fields(gateway: Gateway, seeded: Seeded) -> None:
    r = post(gateway, seeded.key, fielded_stream(per_chunk_usage=None), include_usage=True)
    last = chunks_of(r.text)[-1]
    assert last["choices"] == [] and last["usage"]["total_tokens"] == 14
    assert {k: last[k] for k in FIELDS} == FIELDS
    assert last["id"] == r.headers["x-request-id"] and last["object"] == "chat.completion.chunk"
    with gateway.client(seeded.key).chat.completions.stream(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
        extra_body={"simulate": {"fault": "garbage", "body": fielded_stream(per_chunk_usage=None)}},
    ) as stream:
        final = stream.get_final_completion()
    assert final.system_fingerprint == "fp_51e1070cf2" and final.service_tier == "default"
    assert final.usage is not None and final.usage.completion_tokens == 3


@pytest.mark.parametrize(
    "per_chunk_usage", [None, {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12}]
)
@pytest.mark.parametrize("include_usage", [True, False])
def test_per_chunk_usage_is_null_when_asked_for_and_absent_otherwise(
    gateway: Gateway, seeded: Seeded, per_chunk_usage: Any, include_usage: bool
) -> None:
    r = post(
        gateway, seeded.key, fielded_stream(per_chunk_usage=per_chunk_usage), include_usage=include_usage
    )
    chunks = chunks_of(r.text)
    counted = [c["usage"] for c in chunks if c.get("usage")]
    assert len(counted) == 1 and counted[0]["completion_tokens"] == 3, "usage arrives once, the final one"
    if include_usage:
        assert all("usage" in c and c["usage"] is None for c in chunks[:-1])
    else:
        assert (
            all("usage" not in c for c in chunks[:-1]) and chunks[-1]["choices"][0]["finish_reason"] == "stop"
        )


PROMPT_FILTER = [
    {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
]


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_chunk_without_choices_that_carries_other_fields_is_relayed(
    gateway: Gateway, seeded: Seeded, include_usage: bool
) -> None:
    """Azure OpenAI opens a stream with ``choices: []`` and its ``prompt_filter_results``; that is
    information for the client, not a usage chunk, so it is relayed (under the gateway's id)."""
    opening = "data: " + json.dumps(
        {
            "choices": [],
            "created": 0,
            "id": "",
            "model": "",
            "object": "",
            "prompt_filter_results": PROMPT_FILTER,
        }
    )
    bare = "data: " + json.dumps({**HEAD, "choices": []})  # nothing in it: not relayed
    upstream = opening + "\n\n" + bare + "\n\n" + ANSWER + usage_chunk() + "data: [DONE]\n\n"
    r = post(gateway, seeded.key, upstream, include_usage=include_usage)
    chunks = chunks_of(r.text)
    assert chunks[0]["prompt_filter_results"] == PROMPT_FILTER and chunks[0]["choices"] == []
    assert chunks[0]["id"] == r.headers["x-request-id"]
    assert sum(1 for c in chunks if c["choices"] == []) == 1 + include_usage
    counted = [c["usage"] for c in chunks if c.get("usage")]
    assert len(counted) == 1 and counted[0]["total_tokens"] == 14 and delivered(chunks) == "Hello there."


def test_a_usage_object_without_openai_keys_is_not_adopted(gateway: Gateway, seeded: Seeded) -> None:
    upstream = ANSWER + usage_chunk({"output_tokens": 240}) + "data: [DONE]\n\n"
    r = post(gateway, seeded.key, upstream, include_usage=True)
    usage = chunks_of(r.text)[-1]["usage"]
    assert "output_tokens" not in usage
    assert usage["completion_tokens"] == 3  # "Hello there." in o200k, the gateway's own count
    row = usage_row(gateway, seeded, r.headers["x-request-id"])
    assert row.output_tokens == 3


# 6. Alias restoration ------------------------------------------------------------------------------


def alias_messages() -> list[dict[str, Any]]:
    """A conversation the balanced level compresses with one alias, ``§AA`` for :data:`ROOT`."""
    # each path twice: the first sighting of a path is always shown whole, the second is aliased
    output = "\n".join(
        f"{ROOT}/mod_{c}.py: warning: something long happened here ({n})" for c in "abcdef" for n in "ab"
    )
    call = {"id": "call_1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
    return [
        {"role": "user", "content": "Fix the tests please."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": output},
    ]


def test_refusal_and_reasoning_are_alias_restored(gateway: Gateway, seeded: Seeded) -> None:
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
        "message": {"role": "assistant", "content": None, "refusal": "no \u00a7AA", "reasoning": "\u00a7AA"}
    }
    ResponseRestorer({"\u00a7AA": ROOT}).message(choice)
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": f"no {ROOT}",
        "reasoning": ROOT,
    }


def test_a_broken_stream_sends_the_held_alias_prefix_before_its_error(
    gateway: Gateway, seeded: Seeded
) -> None:
    upstream = (
        chunk({"role": "assistant", "content": ""})
        + chunk({"content": "See \u00a7A"})
        + 'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'
    )
    r = post(gateway, seeded.key, upstream, messages=alias_messages())
    assert_one_error_at_end(r)
    assert delivered(chunks_of(r.text)) == "See \u00a7A"


def test_held_text_of_a_choice_that_never_finished_is_sent_before_done() -> None:
    reads = [chunk({"content": "See \u00a7A"}), "data: [DONE]\n\n"]
    sent, tally = relay(reads, aliases={"\u00a7AA": ROOT})
    assert tally.status == "ok"
    assert delivered(chunks_of(b"".join(sent).decode())) == "See \u00a7A"


# 7. Usage on broken streams -------------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_broken_stream_carries_no_usage_of_the_gateways_making(include_usage: bool) -> None:
    sent, tally = relay([ANSWER], include_usage=include_usage)
    chunks = chunks_of(b"".join(sent).decode())
    assert chunks[-1]["error"]["code"] == "upstream_incomplete_stream"
    assert not any(c.get("usage") for c in chunks)
    assert delivered(chunks) == "Hello there." and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert tally.status == "upstream_error" and tally.output_tokens() == 3


@pytest.mark.parametrize("include_usage", [True, False])
def test_a_broken_stream_still_relays_the_usage_the_upstream_sent(include_usage: bool) -> None:
    sent, _ = relay([ANSWER + usage_chunk()], include_usage=include_usage)
    chunks = chunks_of(b"".join(sent).decode())
    assert chunks[-1]["error"]["code"] == "upstream_incomplete_stream"
    assert [c["usage"] for c in chunks if c.get("usage")] == [USAGE]


# 8. Legacy function calls and bare role chunks ------------------------------------------------------

FUNCTION_ARGS = '{"location": "Paris, France", "unit": "celsius", "days": 3}'


def test_legacy_function_call_arguments_are_alias_restored() -> None:
    """Requests with ``functions`` get ``function_call`` answers: its arguments may echo an alias
    (JSON-escaped), split anywhere, streamed or whole."""
    restorer = ResponseRestorer({"\u00a7AA": ROOT})
    streamed = [{"index": 0, "delta": {"function_call": {"name": "open", "arguments": '{"path": "\u00a7'}}}]
    streamed += [{"index": 0, "delta": {"function_call": {"arguments": 'AA/x.py"}'}}, "finish_reason": None}]
    streamed += [{"index": 0, "delta": {}, "finish_reason": "function_call"}]
    for choice in streamed:
        restorer.chunk(choice)
    args = "".join(c["delta"].get("function_call", {}).get("arguments", "") for c in streamed)
    assert json.loads(args) == {"path": f"{ROOT}/x.py"}
    whole = {"message": {"role": "assistant", "function_call": {"name": "say", "arguments": '["\u00a7AA"]'}}}
    ResponseRestorer({"\u00a7AA": 'C:\\dir "x"'}).message(whole)
    assert json.loads(whole["message"]["function_call"]["arguments"]) == ['C:\\dir "x"']


@pytest.mark.parametrize("stream", [True, False])
def test_a_function_call_answer_is_billed_for_its_output(
    gateway: Gateway, seeded: Seeded, stream: bool
) -> None:
    """No upstream usage and no content: the output is the function call, counted like tool calls."""
    call = {"name": "get_weather", "arguments": FUNCTION_ARGS}
    if stream:
        upstream = (
            chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "get_weather", "arguments": ""},
                }
            )
            + chunk({"function_call": {"arguments": FUNCTION_ARGS}})
            + chunk({}, "function_call")
            + "data: [DONE]\n\n"
        )
    else:
        message = {"role": "assistant", "content": None, "function_call": call}
        answer = {**HEAD, "object": "chat.completion", "choices": [{"index": 0, "message": message}]}
        upstream = json.dumps(
            {**answer, "choices": [{**answer["choices"][0], "finish_reason": "function_call"}]}
        )
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": stream}
    body["simulate"] = {"fault": "garbage", "body": upstream}
    with httpx.Client(timeout=30) as c:
        r = c.post(
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {seeded.key}"},
        )
    assert r.status_code == 200, r.text
    row = usage_row(gateway, seeded, r.headers["x-request-id"])
    assert row.output_tokens > 10 and row.charged_micros > 0


@pytest.mark.parametrize("role_chunk", [{"role": "assistant", "content": ""}, {"role": "assistant"}])
def test_a_stream_broken_after_its_role_chunk_bills_the_input_however_the_chunk_is_spelled(
    gateway: Gateway, seeded: Seeded, role_chunk: dict[str, Any]
) -> None:
    """The answer had started (the client received a chunk): the prompt was processed and billed,
    whether or not the role chunk carries an empty ``content``."""
    r = post(gateway, seeded.key, chunk(role_chunk))
    assert_one_error_at_end(r)
    row = usage_row(gateway, seeded, r.headers["x-request-id"])
    assert row.output_tokens == 0 and row.compressed_input_tokens > 0 and row.charged_micros > 0
