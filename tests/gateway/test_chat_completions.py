"""The chat endpoint as users see it, through the official openai SDK against a real server."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import openai
import pytest

from support.gateway import Gateway

PRETTY_TOOL_OUTPUT = json.dumps(
    {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"], "price": i * 1.5} for i in range(40)]},
    indent=4,
)


def _messages() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "List the items."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "list_items", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": PRETTY_TOOL_OUTPUT},
        {"role": "user", "content": "Which item is the most expensive?"},
    ]


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.seed(usd="5.00").key


def test_non_streaming_answer_usage_headers(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=_messages())
    completion = raw.parse()
    assert completion.id.startswith("gen-")
    assert completion.choices[0].message.content
    assert "simulator" in completion.choices[0].message.content.lower()
    original = int(raw.headers["x-opencompress-original-tokens"])
    compressed = int(raw.headers["x-opencompress-compressed-tokens"])
    assert compressed < original, "pretty-printed JSON tool output must shrink"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == compressed
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert raw.headers["x-request-id"] == completion.id
    assert raw.headers["x-ratelimit-limit"] == "60"
    assert int(raw.headers["x-ratelimit-remaining"]) < 60
    assert int(raw.headers["x-ratelimit-reset"]) >= 0
    assert raw.headers["x-opencompress-level"] == "balanced"


def test_forwarded_body_is_compressed_and_otherwise_untouched(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    parts = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    messages = [*_messages()[:-1], {"role": "user", "content": parts}]
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        logprobs=True,
        extra_body={"compression": {"level": "lossless"}, "my_custom_field": {"keep": [1, 2]}},
    )
    forwarded = gateway.sim_requests()[-1]["body"]
    assert "compression" not in forwarded
    assert forwarded["my_custom_field"] == {"keep": [1, 2]}
    assert forwarded["logprobs"] is True
    assert forwarded["messages"][-1]["content"] == parts
    assert forwarded["messages"][2]["tool_calls"] == messages[2]["tool_calls"]
    tool_content = forwarded["messages"][3]["content"]
    assert json.loads(tool_content) == json.loads(PRETTY_TOOL_OUTPUT)
    assert len(tool_content) < len(PRETTY_TOOL_OUTPUT)


def test_level_off_forwards_the_clients_exact_bytes(gateway: Gateway, key: str) -> None:
    """Nothing to change → the body is not re-encoded: number spellings, big integers, key order
    and escapes reach the upstream as the client wrote them."""
    raw = (
        b'{"temperature": 1.0, "seed": 123456789012345678901234567890, "model": "gpt-4o-mini",\n'
        b' "messages": [{"role": "user", "content": "caf\\u00e9 \\ud83d\\ude00"}], "top_p": 1e0}'
    )
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "X-OpenCompress-Level": "off",
    }
    with gateway.http() as http:
        r = http.post("/v1/chat/completions", content=raw, headers=headers)
    assert r.status_code == 200, r.text
    forwarded = gateway.sim_requests()[-1]
    assert forwarded["sha256"] == hashlib.sha256(raw).hexdigest()
    assert forwarded["bytes"] == len(raw)

    # a gateway field to strip, or a stream to ask usage of: the body is re-encoded, values kept
    for extra, stream in ((b', "compression": "off"', False), (b"", True)):
        body = raw[:-1] + extra + (b', "stream": true}' if stream else b"}")
        with gateway.http() as http:
            r = http.post("/v1/chat/completions", content=body, headers=headers)
        assert r.status_code == 200, r.text
        forwarded = gateway.sim_requests()[-1]
        assert forwarded["sha256"] != hashlib.sha256(body).hexdigest()
        assert forwarded["body"]["seed"] == 123456789012345678901234567890
        assert "compression" not in forwarded["body"]

    # UTF-16 or a BOM is accepted from the client but re-encoded: upstreams read UTF-8 only
    for encoded in (raw.decode().encode("utf-16"), b"\xef\xbb\xbf" + raw):
        with gateway.http() as http:
            r = http.post("/v1/chat/completions", content=encoded, headers=headers)
        assert r.status_code == 200, r.text
        forwarded = gateway.sim_requests()[-1]
        assert (
            forwarded["bytes"] < len(encoded) and forwarded["body"]["seed"] == 123456789012345678901234567890
        )


def test_level_header_off_forwards_original(gateway: Gateway, key: str) -> None:
    client = gateway.client(key, default_headers={"X-OpenCompress-Level": "off"})
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=_messages())
    assert raw.headers["x-opencompress-original-tokens"] == raw.headers["x-opencompress-compressed-tokens"]
    assert raw.headers["x-opencompress-level"] == "off"
    assert gateway.sim_requests()[-1]["body"]["messages"][3]["content"] == PRETTY_TOOL_OUTPUT


def test_stream_without_include_usage_puts_usage_on_finish_chunk(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=_messages(), stream=True))
    assert all(c.id.startswith("gen-") for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert all(c.choices for c in chunks), "no usage-only chunk unless the client asked for one"
    with_usage = [c for c in chunks if c.usage is not None]
    assert len(with_usage) == 1
    assert with_usage[0] is chunks[-1]
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "simulator" in text.lower()
    assert forwarded_include_usage(gateway)


def forwarded_include_usage(gateway: Gateway) -> bool:
    body = gateway.sim_requests()[-1]["body"]
    return bool(body["stream_options"]["include_usage"])


def test_stream_with_include_usage_sends_one_usage_chunk(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=_messages(), stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert usage_chunks[0].choices == []
    assert usage_chunks[0] is chunks[-1]
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].usage is None


def test_stream_wire_format_ends_with_done(gateway: Gateway, key: str) -> None:
    body = {"model": "gpt-4o-mini", "messages": _messages(), "stream": True}
    with httpx.Client(timeout=30) as c:
        r = c.post(gateway.base_url + "/chat/completions", json=body, headers={"x-api-key": key})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert int(r.headers["x-opencompress-compressed-tokens"]) > 0


def test_tool_call_streamed_as_argument_deltas(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "days": {"type": "integer"},
                        "unit": {"type": "string", "enum": ["c", "f"]},
                    },
                    "required": ["city", "days", "unit"],
                },
            },
        }
    ]
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=_messages(), tools=tools, tool_choice="required", stream=True
    )
    fragments: list[str] = []
    names = []
    finish = None
    for chunk in stream:
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                if call.function and call.function.name:
                    names.append(call.function.name)
                if call.function and call.function.arguments:
                    fragments.append(call.function.arguments)
            finish = choice.finish_reason or finish
    assert names == ["get_weather"]
    assert len(fragments) > 1, "arguments arrive as several deltas"
    args = json.loads("".join(fragments))
    assert set(args) >= {"city", "days", "unit"} and args["unit"] in ("c", "f")
    assert finish == "tool_calls"
    assert gateway.sim_requests()[-1]["body"]["tools"] == tools


def test_n_choices_and_max_tokens(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=_messages(), n=2, max_tokens=3)
    assert [c.index for c in completion.choices] == [0, 1]
    assert all(c.finish_reason == "length" for c in completion.choices)


def test_json_mode_returns_json(gateway: Gateway, key: str) -> None:
    client = gateway.client(key)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=_messages(), response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)


def test_api_v1_base_path_and_x_api_key(gateway: Gateway, key: str) -> None:
    client = openai.OpenAI(
        base_url=gateway.server.url + "/api/v1",
        api_key="unused",
        max_retries=0,
        default_headers={"Authorization": "", "x-api-key": key},
    )
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content


def test_models_and_health(gateway: Gateway) -> None:
    with gateway.http() as c:
        assert c.get("/health").json()["status"] == "ok"
        models = c.get("/v1/models").json()
    assert models["object"] == "list"
    assert any(m["id"] == "gpt-4o-mini" for m in models["data"])


@pytest.mark.parametrize("level", ["off", "balanced"])
def test_protect_markers_never_reach_the_upstream(gateway: Gateway, key: str, level: str) -> None:
    client = gateway.client(key)
    content = "Keep <occ:protect>this   exact    spacing</occ:protect> please."
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": content}, {"role": "user", "content": "ok"}],
        extra_body={"compression": {"level": level}},
    )
    sent = gateway.sim_requests()[-1]["body"]["messages"][0]["content"]
    assert "occ:protect" not in sent
    assert "this   exact    spacing" in sent
