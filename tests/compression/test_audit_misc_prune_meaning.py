"""prose_prune keeps the words that carry meaning: hedges, "rather than", quantity phrases, and an
intensifier under a negation."""

from __future__ import annotations

import pytest

from opencompress.compression.text.prune import prune_prose

FILLER = "The report is very long and the team is really busy with the release this week. "


def _pruned(sentence: str) -> str:
    text = (FILLER + sentence + " ") * 6
    out = prune_prose(text, max_drop=0.5)
    assert out is not None  # the filler around it is pruned, so the stage did run
    return out


@pytest.mark.parametrize(
    "phrase",
    [
        "store credit rather than cash",
        "a few late deliveries",
        "a little compensation",
        "a lot of complaints",
        "a couple of tickets",
        "a third of",
        "a dozen boxes",
        "pretty sure",
        "quite large",
        "fairly confident",
        "somewhat slower",
        "basically done",
        "just two minutes",
        "not very stable",
        "isn't really broken",
        "has been notified",
    ],
)
def test_meaning_bearing_words_survive(phrase: str) -> None:
    sentence = f"Customers noted {phrase} during the sale period at the outlet store today."
    assert phrase in _pruned(sentence)


def test_fillers_still_go() -> None:
    out = _pruned("The warehouse said it was very busy and really short of staff.")
    assert "very" not in out and "really" not in out
