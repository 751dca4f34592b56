"""Offline o200k/cl100k counting from the bpe-openai ranks, the way OpenAI bills chat messages."""

from __future__ import annotations

from opencompress import tokens


def test_encodings_load_offline_and_are_shared() -> None:
    enc = tokens.get_encoding()
    assert enc is tokens.get_encoding("o200k_base")
    assert enc.encode("hello world") == [24912, 2375]
    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]


def test_message_framing_matches_openai_billing() -> None:
    # 3 reply-priming + 3 per message + role + content (+1 and the name for a name)
    assert tokens.count_messages([{"role": "user", "content": "hello world"}]) == 3 + 3 + 1 + 2
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert tokens.count_messages(named) == 9 + 1 + tokens.count_text("bob")


def test_parts_tool_calls_and_cache_agree() -> None:
    long_text = "The quick brown fox jumps over the lazy dog. " * 20
    plain = tokens.count_messages([{"role": "user", "content": long_text}])
    assert plain == tokens.count_messages([{"role": "user", "content": long_text}])
    parts = [{"type": "text", "text": long_text}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert tokens.count_messages([{"role": "user", "content": parts}]) == plain + tokens.IMAGE_PART_TOKENS
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    with_call = tokens.count_messages([{"role": "assistant", "content": None, "tool_calls": [call]}])
    assert with_call == 3 + 3 + tokens.count_text("assistant") + tokens.count_text("f") + tokens.count_text(
        '{"a": 1}'
    )
