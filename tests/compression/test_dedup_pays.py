"""Duplicate folding only happens where it saves o200k tokens, not merely characters."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression import compress
from opencompress.compression.base import Policy
from opencompress.compression.stages.dedup import Dedup, block_marker
from opencompress.tokens import count_messages, count_text

SEPARATORS = ["-", "=", "#", "*", "_", "/"]


def _lossless(*contents: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    msgs: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": f"c{i}", "content": c} for i, c in enumerate(contents)
    ]
    msgs.append({"role": "user", "content": "q"})
    return msgs, compress(msgs, policy=Policy(level="lossless")).messages


@pytest.mark.parametrize("char", SEPARATORS)
def test_a_repeated_separator_line_is_not_folded(char: str) -> None:
    block = "Header line number one\n" + char * 80 + "\nFooter line number two"
    msgs, out = _lossless(block + "\n" + block)
    assert out[0]["content"] == msgs[0]["content"]
    assert count_messages(out) <= count_messages(msgs)


@pytest.mark.parametrize("char", SEPARATORS)
def test_a_repeated_separator_only_text_is_not_folded_whole(char: str) -> None:
    text = "\n".join([char * 100] * 3)
    msgs, out = _lossless(text, text)
    assert out[1]["content"] == text
    assert count_messages(out) <= count_messages(msgs)


def test_a_repeated_block_of_words_is_still_folded_and_saves_tokens() -> None:
    middle = ["    total = compute_total(items, discount=0.15, currency='EUR')"] * 2
    block = "\n".join(["def price(items):", *middle, "    return total"])
    msgs, out = _lossless(block + "\n" + block)
    assert out[0]["content"].endswith("\n".join(["def price(items):", block_marker(2), "    return total"]))
    assert count_messages(out) < count_messages(msgs)


def test_a_repeated_long_text_is_still_folded_whole() -> None:
    text = "\n".join(f"line {i}: some output that is long enough" for i in range(8))
    msgs, out = _lossless(text, text)
    assert out[1]["content"].startswith("[… identical to")
    assert count_messages(out) < count_messages(msgs)


LINES = st.sampled_from(
    [
        "-" * 80,
        "=" * 64,
        "",
        "ok",
        "Header line number one",
        "    value = compute(alpha, beta)",
        "The quick brown fox jumps over the lazy dog again and again",
        "#" * 30 + " section " + "#" * 30,
        "12345678901234567890",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(LINES, min_size=3, max_size=12), st.lists(LINES, max_size=3), st.lists(LINES, max_size=3))
def test_a_block_fold_never_costs_tokens(block: list[str], before: list[str], after: list[str]) -> None:
    stage = Dedup()
    state = stage.new_state()
    first = "\n".join(block)
    stage.index(state, first, "x")
    text = "\n".join([*before, *block, *after])
    out = stage.fold_blocks(state, text)
    if out != text:
        assert count_text(out) < count_text(text)
