"""Chat completions from the simulator: text, streaming shapes, n, max_tokens, stop, determinism."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from opencompress.simulator import SimulatorThread
from opencompress.tokens import count_messages, count_text

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Summarise the quarterly report in three bullet points, please."},
]


def test_non_streaming_answer_describes_the_request(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    content = reply.choices[0].message.content or ""
    prompt_tokens = count_messages(MESSAGES)
    assert content.startswith("Simulated answer from the OpenCompress upstream simulator")
    assert f"received 2 messages (1 system, 1 user), {prompt_tokens} prompt tokens (o200k)" in content
    assert '"Summarise the quarterly report in three bullet points, please."' in content
    assert reply.model == "gpt-4o-mini"
    assert reply.id.startswith("chatcmpl-") and len(reply.id) == len("chatcmpl-") + 29
    assert reply.object == "chat.completion"
    assert reply.system_fingerprint and reply.system_fingerprint.startswith("fp_")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == prompt_tokens
    assert reply.usage.completion_tokens == count_text(content)
    assert reply.usage.total_tokens == prompt_tokens + count_text(content)


def test_same_request_same_text_distinct_ids(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    second = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.id != second.id
    other = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "different"}])
    assert other.choices[0].message.content != first.choices[0].message.content


def _stream(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, str]:
    response = http.post("/v1/chat/completions", json=body)
    return response, response.text


def test_stream_without_include_usage_exact_shape(
    http: httpx.Client, sse: Callable[[str], list[str]]
) -> None:
    response, text = _stream(http, {"model": "gpt-4o", "messages": MESSAGES, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert text.endswith("data: [DONE]\n\n")
    payloads = sse(text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all("usage" not in c for c in chunks), "no usage key at all without include_usage"
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    for chunk in chunks:
        assert list(chunk)[:4] == ["id", "object", "created", "model"]
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "gpt-4o"
    first, last = chunks[0], chunks[-1]
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert last["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    middle = chunks[1:-1]
    assert len(middle) >= 10, "content arrives in many small deltas"
    assert all(list(c["choices"][0]["delta"]) == ["content"] for c in middle)
    assert all(1 <= count_text(c["choices"][0]["delta"]["content"]) <= 3 for c in middle)
    streamed = "".join(c["choices"][0]["delta"]["content"] for c in middle)
    whole = http.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}).json()
    assert streamed == whole["choices"][0]["message"]["content"]


def test_stream_with_include_usage_has_one_usage_chunk(
    http: httpx.Client, sse: Callable[[str], list[str]]
) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    _, text = _stream(http, body)
    chunks = [json.loads(p) for p in sse(text)[:-1]]
    assert all("usage" in c for c in chunks)
    assert all(c["usage"] is None for c in chunks[:-1])
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert usage_chunk["usage"]["prompt_tokens"] == count_messages(MESSAGES)
    assert usage_chunk["usage"]["completion_tokens"] == count_text(content)
    assert usage_chunk["usage"]["total_tokens"] == count_messages(MESSAGES) + count_text(content)
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_sdk_streaming_reassembles_text_and_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    parts, usage = [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
    assert "".join(parts).startswith("Simulated answer")
    assert usage is not None and usage.completion_tokens == count_text("".join(parts))


def test_n3_streams_interleaved_choices(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    usage = {"include_usage": True}
    body = {"model": "m", "messages": MESSAGES, "n": 3, "stream": True, "stream_options": usage}
    _, text = _stream(http, body)
    chunks = [json.loads(p) for p in sse(text)[:-1]]
    indexes = [c["choices"][0]["index"] for c in chunks if c["choices"]]
    assert indexes[:6] == [0, 1, 2, 0, 1, 2], "choices interleave round-robin like the n=3 recording"
    finishes = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [f["index"] for f in finishes] == [0, 1, 2]
    texts = ["", "", ""]
    for c in chunks:
        if c["choices"]:
            texts[c["choices"][0]["index"]] += c["choices"][0]["delta"].get("content") or ""
    assert len(set(texts)) == 3 and all(t.endswith(f"(choice {i + 1} of 3)") for i, t in enumerate(texts))
    assert chunks[-1]["usage"]["completion_tokens"] == sum(count_text(t) for t in texts)


def test_n3_non_streaming(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=MESSAGES, n=3)  # type: ignore[arg-type]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert reply.usage is not None
    assert reply.usage.completion_tokens == sum(count_text(c.message.content or "") for c in reply.choices)


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_token_limit_stops_with_length(client: openai.OpenAI, param: str) -> None:
    reply = client.chat.completions.create(model="m", messages=MESSAGES, **{param: 5})  # type: ignore[call-overload]
    choice = reply.choices[0]
    assert choice.finish_reason == "length"
    assert count_text(choice.message.content or "") == 5
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    full = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert (full.choices[0].message.content or "").startswith(choice.message.content or "<none>")


def test_streamed_length_finish(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    _, text = _stream(http, {"model": "m", "messages": MESSAGES, "stream": True, "max_tokens": 1})
    chunks = [json.loads(p) for p in sse(text)[:-1]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]] == ["Sim"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_stop_sequence_cuts_the_answer(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=MESSAGES, stop=[" upstream"])  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "Simulated answer from the OpenCompress"
    assert reply.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"messages": MESSAGES}, "model"),
        ({"model": "m", "messages": MESSAGES, "n": 0}, "n"),
        ({"model": "m", "messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
    ],
)
def test_invalid_requests_get_openai_400(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]


def test_sdk_raises_bad_request_for_missing_messages(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="m", messages=[])
    assert "too short" in str(info.value)


def test_unparseable_body_is_400(http: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    response = http.post("/v1/chat/completions", content=b"{not json", headers=headers)
    assert response.status_code == 400 and "parse the JSON body" in response.json()["error"]["message"]


def test_models_catalog(client: openai.OpenAI, http: httpx.Client) -> None:
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    assert http.get("/v1/models/no-such-model").status_code == 404


def test_route_without_v1_prefix(sim: SimulatorThread) -> None:
    with openai.OpenAI(base_url=sim.url, api_key="k", max_retries=0) as bare:
        reply = bare.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content


def test_unicode_streams_whole_characters(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    messages = [{"role": "user", "content": "東京の天気は？ 🌧️ naïve café"}]
    _, text = _stream(http, {"model": "m", "messages": messages, "stream": True})
    deltas = [json.loads(p)["choices"][0]["delta"].get("content") or "" for p in sse(text)[:-1]]
    assert all("\ufffd" not in d for d in deltas)
    assert "東京の天気は？ 🌧️ naïve café" in "".join(deltas)
