"""A span marked in a later message must not change how earlier messages compress (prefix stability)."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.compression import Policy, compress
from opencompress.compression.pipeline import clear_caches

OUT = "ERROR: disk full on /dev/sda1. " * 8


def _call(call_id: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "df", "arguments": "{}"}}],
    }


TURN = [
    {"role": "user", "content": "run df"},
    _call("c1"),
    {"role": "tool", "tool_call_id": "c1", "content": OUT},
    _call("c2"),
    {"role": "tool", "tool_call_id": "c2", "content": OUT},
    {"role": "assistant", "content": "Disk is full."},
]
NEXT = [*TURN, {"role": "user", "content": "Quote <occ:protect>ERROR: disk full</occ:protect> exactly."}]


@pytest.mark.parametrize("level", ["lossless", "balanced", "aggressive"])
def test_later_marker_leaves_the_earlier_prefix_as_it_was(level: str) -> None:
    for cold in (True, False):
        if cold:
            clear_caches()
        before = compress(TURN, policy=Policy(level=level)).messages
        after = compress(NEXT, policy=Policy(level=level)).messages
        assert after[: len(TURN)] == before
    assert "identical to the earlier result of tool call c1" in str(before[4]["content"]), "the fold happened"
    assert after[-1]["content"] == "Quote ERROR: disk full exactly.", "markers removed, span kept"


def test_marker_still_protects_its_own_message_and_later_ones() -> None:
    text = "keep   this    spacing"
    marked = [
        {"role": "system", "content": f"<occ:protect>{text}</occ:protect>\n\n\n\n" + "filler line\n" * 300},
        {"role": "user", "content": "ok"},
        {"role": "assistant", "content": "fine"},
        {"role": "tool", "tool_call_id": "x", "content": f"{text}\n\n\n\n" + "other line\n" * 300},
        {"role": "user", "content": "q"},
    ]
    out = compress(marked, policy=Policy(level="lossless")).messages
    assert text in out[0]["content"] and text in out[3]["content"]
