"""Tool calls and JSON output: schema filling, tool_choice rules, streamed argument deltas."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from opencompress.simulator.tools import fill_schema
from opencompress.tokens import count_text

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "units": {"type": "string", "enum": ["fahrenheit", "celsius"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "detailed": {"type": "boolean"},
                "optional_note": {"type": "string"},
            },
            "required": ["city", "units", "days", "detailed"],
        },
    },
}
SEARCH = {
    "type": "function",
    "function": {
        "name": "search_files",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 3},
                "limit": {"type": "integer", "default": 10},
                "filters": {
                    "type": "object",
                    "properties": {"paths": {"type": "array", "items": {"type": "string"}, "minItems": 2}},
                    "required": ["paths"],
                },
                "owner": {"$ref": "#/$defs/person"},
                "score": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 100}]},
            },
            "required": ["query", "limit", "filters", "owner", "score"],
            "$defs": {
                "person": {
                    "type": "object",
                    "properties": {
                        "email": {"type": "string", "format": "email"},
                        "id": {"type": "string", "format": "uuid"},
                    },
                    "required": ["email", "id"],
                }
            },
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather like?"}]


def test_fill_schema_honours_types_enums_defaults_and_refs() -> None:
    weather = fill_schema(WEATHER["function"]["parameters"])  # type: ignore[index]
    assert weather == {"city": "Paris", "units": "fahrenheit", "days": 7, "detailed": True}
    search = fill_schema(SEARCH["function"]["parameters"])  # type: ignore[index]
    assert search["limit"] == 10
    assert len(search["query"]) >= 3
    assert isinstance(search["filters"]["paths"], list) and len(search["filters"]["paths"]) == 2
    assert search["owner"]["email"] == "user@example.com"
    assert len(search["owner"]["id"]) == 36
    assert isinstance(search["score"], float) and search["score"] > 100


def test_fill_schema_edge_cases() -> None:
    assert fill_schema({"type": ["null", "integer"], "maximum": 5}) == 5
    assert fill_schema({"const": "fixed"}) == "fixed"
    assert fill_schema(
        {
            "allOf": [
                {"properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "boolean"}}, "required": ["b"]},
            ]
        }
    ) == {"a": "example a", "b": True}
    recursive = {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/$defs/node"}},
                "required": ["child"],
            }
        },
    }
    value = fill_schema(recursive)
    depth = 0
    while isinstance(value, dict):
        value, depth = value["child"], depth + 1
    assert 1 < depth < 10, "recursive schemas terminate"


def _reassemble(chunks: list[dict[str, Any]]) -> tuple[str, str, str, str | None]:
    call_id = name = arguments = ""
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                call_id = call.get("id", call_id)
                name = call.get("function", {}).get("name", name)
                arguments += call["function"]["arguments"]
            finish = choice["finish_reason"] or finish
    return call_id, name, arguments, finish


def test_streamed_tool_call_wire_shape(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    body = {
        "model": "m",
        "messages": ASK,
        "tools": [WEATHER],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text = http.post("/v1/chat/completions", json=body).text
    chunks = [json.loads(p) for p in sse(text)[:-1]]
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None and first["refusal"] is None
    head = first["tool_calls"][0]
    assert head["index"] == 0 and head["id"].startswith("call_") and len(head["id"]) == 29
    assert head["type"] == "function" and head["function"] == {"name": "get_weather", "arguments": ""}
    fragments = [c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[1:-2]]
    assert len(fragments) >= 5, "arguments arrive as several fragments"
    assert all(set(c["choices"][0]["delta"]["tool_calls"][0]) == {"index", "function"} for c in chunks[1:-2])
    call_id, name, arguments, finish = _reassemble(chunks)
    assert finish == "tool_calls"
    parsed = json.loads(arguments)
    assert set(parsed) >= {"city", "units", "days", "detailed"}
    assert parsed["units"] in ("fahrenheit", "celsius") and 1 <= parsed["days"] <= 7
    assert chunks[-1]["usage"]["completion_tokens"] == count_text(name) + count_text(arguments)


def test_sdk_stream_tool_call_is_deterministic(client: openai.OpenAI) -> None:
    def run() -> tuple[str, str]:
        call_id, arguments = "", ""
        stream = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], stream=True)  # type: ignore[list-item]
        for chunk in stream:
            for call in chunk.choices[0].delta.tool_calls or []:
                call_id = call.id or call_id
                arguments += (call.function.arguments if call.function else None) or ""
        return call_id, arguments

    first, second = run(), run()
    assert first == second and json.loads(first[1])["city"] == "Paris"


def test_named_tool_choice_and_mentioned_tool(client: openai.OpenAI) -> None:
    forced = client.chat.completions.create(
        model="m",
        messages=ASK,
        tools=[WEATHER, SEARCH],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "search_files"}},
    )
    call = forced.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert forced.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "search_files"  # type: ignore[union-attr]
    assert set(json.loads(call.function.arguments)) == {"query", "limit", "filters", "owner", "score"}  # type: ignore[union-attr]
    mentioned = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "please call search_files"}],
        tools=[WEATHER, SEARCH],
        tool_choice="required",  # type: ignore[list-item]
    )
    assert mentioned.choices[0].message.tool_calls[0].function.name == "search_files"  # type: ignore[index, union-attr]


def test_tool_choice_none_answers_in_text(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], tool_choice="none")  # type: ignore[list-item]
    assert reply.choices[0].message.tool_calls is None
    assert (reply.choices[0].message.content or "").startswith("Simulated answer")


def test_unknown_named_tool_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="m",
            messages=ASK,
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice={"type": "function", "function": {"name": "nope"}},
        )


def test_tool_call_respects_max_tokens(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=ASK, tools=[WEATHER], max_tokens=6)  # type: ignore[list-item]
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens <= 6


def test_json_object_response_format(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model="m", messages=ASK, response_format={"type": "json_object"})  # type: ignore[arg-type]
    data = json.loads(reply.choices[0].message.content or "")
    assert data["simulated"] is True and data["messages"] == 1


def test_json_schema_response_format_streams_valid_json(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["title", "tags"],
        "additionalProperties": False,
    }
    stream = client.chat.completions.create(
        model="m",
        messages=ASK,
        stream=True,  # type: ignore[arg-type]
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "doc", "schema": schema, "strict": True},
        },
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert json.loads(text) == {"title": "Example title", "tags": ["example tag"]}
