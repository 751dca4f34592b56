"""Duplicate folding: whole texts and line blocks, only ever pointing backwards."""

from __future__ import annotations

from opencompress.compression.base import Policy, StageContext
from opencompress.compression.stages.dedup import Dedup, block_marker, describe, whole_marker

CTX = StageContext(policy=Policy(level="lossless"), query="", frozen_until=-1)
LONG = "\n".join(f"line {i}: some output that is long enough" for i in range(8))


def test_identical_tool_result_refers_to_the_earlier_call() -> None:
    msgs = [
        {"role": "tool", "tool_call_id": "call_1", "content": LONG},
        {"role": "tool", "tool_call_id": "call_2", "content": LONG},
    ]
    out = Dedup().apply(msgs, CTX)
    assert out[0] is msgs[0]
    assert out[1]["content"] == whole_marker("the earlier result of tool call call_1")
    assert out[1]["tool_call_id"] == "call_2"


def test_user_duplicate_is_described_by_its_first_line() -> None:
    assert (
        describe("user", "  First line here\nsecond", None)
        == 'the earlier user message starting "First line here"'
    )


def test_short_duplicates_and_assistant_turns_are_kept() -> None:
    msgs = [
        {"role": "assistant", "content": LONG},
        {"role": "assistant", "content": LONG},
        {"role": "user", "content": "ok"},
        {"role": "user", "content": "ok"},
    ]
    assert Dedup().apply(msgs, CTX) == msgs


def test_repeated_block_keeps_its_first_and_last_line() -> None:
    block = [f"{i}:    value_{i} = compute({i}, other_argument)" for i in range(10, 16)]
    first = "\n".join(["[File: a.py]", *block, "end"])
    second = "\n".join(["[File: a.py again]", *block, "(Open file: a.py)"])
    out = Dedup().apply([{"role": "user", "content": first}, {"role": "user", "content": second}], CTX)
    want = "\n".join(["[File: a.py again]", block[0], block_marker(4), block[-1], "(Open file: a.py)"])
    assert out[1]["content"] == want


def test_block_repeated_inside_the_same_text_points_back_in_it() -> None:
    block = [f"Requirement satisfied: package_{i} in /usr/lib/site-packages" for i in range(5)]
    text = "\n".join([*block, "----", *block])
    out = Dedup().apply([{"role": "tool", "content": text}], CTX)
    assert out[0]["content"] == "\n".join([*block, "----", block[0], block_marker(3), block[-1]])


def test_blocks_match_through_trailing_whitespace() -> None:
    block = [f"instruction number {i} with enough words" for i in range(5)]
    first = "\n".join(x + "  " for x in block)
    out = Dedup().apply(
        [{"role": "system", "content": first}, {"role": "user", "content": "\n".join(block)}], CTX
    )
    assert out[1]["content"] == "\n".join([block[0], block_marker(3), block[-1]])


def test_a_block_never_swallows_a_code_fence() -> None:
    lines = ["alpha line one here", "beta line two here", "```", "gamma line three", "delta line four here"]
    text = "\n".join(lines)
    out = Dedup().apply(
        [{"role": "user", "content": text}, {"role": "user", "content": text + "\nmore"}], CTX
    )
    assert "```" in out[1]["content"]


def test_later_text_never_changes_earlier_results() -> None:
    stage = Dedup()
    msgs = [{"role": "user", "content": LONG + "\nA"}, {"role": "tool", "content": LONG}]
    first = stage.apply(msgs[:1], CTX)
    both = stage.apply(msgs, CTX)
    assert both[0] == first[0]


def test_block_marker_counts_in_words() -> None:
    assert block_marker(1) == "[… 1 line repeated from above …]"
    assert block_marker(3) == "[… 3 lines repeated from above …]"
