"""Offline o200k/cl100k counting the way OpenAI bills chat messages, held to tiktoken's ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress import tokens
from support.reference_tokenizer import reference_encoding

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "compression"
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|endofprompt|>", "<|im_start|>"]


def test_encodings_load_offline_and_are_shared() -> None:
    enc = tokens.get_encoding()
    assert enc is tokens.get_encoding("o200k_base")
    assert enc.encode_ordinary("hello world") == [24912, 2375]
    assert tokens.get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    with pytest.raises(ValueError, match="unknown encoding"):
        tokens.get_encoding("p50k_base")


def _repository_texts() -> Iterator[str]:
    for pattern in (
        "*.md",
        "docs/*.md",
        "src/opencompress/**/*.py",
        "src/opencompress/**/*.sql",
        "**/*.toml",
    ):
        for path in sorted(ROOT.glob(pattern)):
            if ".venv" not in path.parts:
                yield path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", tokens.ENCODINGS)
def test_ids_equal_tiktokens_on_the_repository_text(name: str) -> None:
    ours, reference = tokens.get_encoding(name), reference_encoding(name)
    texts = list(_repository_texts())
    assert len(texts) > 100
    for text in texts:
        assert ours.encode_ordinary(text) == reference.encode_ordinary(text)
        assert ours.count(text) == len(reference.encode_ordinary(text))


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/compression is absent")
def test_ids_equal_tiktokens_on_real_prompts() -> None:
    """2.0 M o200k tokens of RAG documents, few-shot prompts, JSON and agent traces."""
    ours, reference = tokens.get_encoding(), reference_encoding("o200k_base")
    seen = 0
    for path in sorted(SHARED_DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            for message in json.loads(line)["messages"]:
                content = message.get("content")
                if isinstance(content, str) and content:
                    assert ours.encode_ordinary(content) == reference.encode_ordinary(content)
                    seen += 1
    assert seen > 2_000


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40), st.sampled_from(SPECIALS), st.sampled_from([" ", "\n", "\t", "  \n "])
        ),
        max_size=12,
    ).map("".join)
)
def test_ids_equal_tiktokens_on_any_text(text: str) -> None:
    """Any unicode, special-token strings as plain text, runs of whitespace."""
    for name in tokens.ENCODINGS:
        expected = reference_encoding(name).encode_ordinary(text)
        assert tokens.get_encoding(name).encode_ordinary(text) == expected
        assert tokens.count_text(text, name) == len(expected)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 20_000,
        "ab1" * 7_000,
        "é" * 5_000 + "x",
        " " * 10_000 + "y",
        "😀" * 3_000,
        "Hello" + "\n" * 5_000,
    ],
)
def test_ids_equal_tiktokens_on_long_runs(text: str) -> None:
    """Long runs without a word break are where BPE implementations differ (and get slow)."""
    assert tokens.get_encoding().encode_ordinary(text) == reference_encoding("o200k_base").encode_ordinary(
        text
    )


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
