"""ProsePruning stage: which messages it touches (per-message pure, so prefix-stable)."""

from __future__ import annotations

from typing import Any

from opencompress.compression.base import Policy, StageContext
from opencompress.compression.stages.prose import ProsePruning

PROSE = (
    "The assistant is a very helpful guide that is always careful to check the facts before it answers.\n"
    "It is actually important that the tone is friendly, and the answers are quite short and clear.\n"
) * 6


def _ctx(messages: list[dict[str, Any]]) -> StageContext:
    frozen = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    return StageContext(policy=Policy(level="aggressive"), query="", frozen_until=frozen)


def test_prunes_system_prose_and_never_the_user_messages() -> None:
    messages = [
        {"role": "system", "content": PROSE},
        {"role": "user", "content": PROSE},
        {"role": "assistant", "content": PROSE},
        {"role": "user", "content": PROSE},
    ]
    out = ProsePruning(min_tokens=50).apply(messages, _ctx(messages))
    assert len(out[0]["content"]) < len(PROSE)
    assert out[1:] == messages[1:]
    assert messages[0]["content"] == PROSE  # input not mutated


def test_prefix_stable_same_bytes_on_every_turn() -> None:
    turn1 = [{"role": "system", "content": PROSE}, {"role": "user", "content": "hi"}]
    turn2 = turn1 + [{"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    stage = ProsePruning(min_tokens=50)
    assert stage.apply(turn1, _ctx(turn1))[0] == stage.apply(turn2, _ctx(turn2))[0]


def test_small_code_and_non_string_content_untouched() -> None:
    messages = [
        {"role": "system", "content": "The end is near."},
        {"role": "tool", "tool_call_id": "x", "content": "def f(a):\n    return a  # the value\n" * 40},
        {"role": "system", "content": [{"type": "text", "text": PROSE}]},
        {"role": "user", "content": "q"},
    ]
    assert ProsePruning(min_tokens=5).apply(messages, _ctx(messages)) is messages
