"""Ranking fixes from an audit with held-out-like QA variants (other layouts and phrasings).

Each test builds documents where the gold one is found only through what the fix restores."""

from __future__ import annotations

from typing import Any

from opencompress.compression import Policy, compress

TOPICS = (
    "bridge",
    "harbour",
    "railway",
    "canal",
    "airport",
    "tunnel",
    "stadium",
    "museum",
    "library",
    "cathedral",
    "lighthouse",
    "dam",
    "tower",
    "market",
    "castle",
    "observatory",
    "university",
    "hospital",
    "theatre",
)


def _compress(messages: list[dict[str, Any]], level: str = "balanced") -> str:
    out = compress(messages, policy=Policy(level=level)).messages  # type: ignore[arg-type]
    return "\n".join(str(m.get("content")) for m in out)


def _distractor(topic: str) -> tuple[str, str]:
    body = (
        f"The {topic} was designed by a team of engineers working for the city council. "
        f"Construction of the {topic} was delayed twice by disputes over the budget. "
        f"Visitors to the {topic} today can join guided tours in several languages. "
        f"A small exhibition near the {topic} tells the story of the workers who built it."
    )
    return f"The old {topic}", body


def test_a_title_in_a_tag_attribute_is_ranked() -> None:
    """``<doc id="3" title="…">``: the whole opening tag was dropped before ranking, title and all,
    so a question naming only the title found nothing in the gold document."""
    docs = [_distractor(t) for t in TOPICS]
    gold_body = (
        "Its chief designer was Wernher von Braun, who led the team at Huntsville. "
        "Thirteen of them flew between the late sixties and the early seventies. "
        "Each stood taller than a thirty-storey building when fully stacked. "
        "The first stage burned kerosene and liquid oxygen in five large engines."
    )
    docs.insert(15, ("Saturn V", gold_body))
    body = "\n".join(f'<doc id="{i + 1}" title="{t}">\n{b}\n</doc>' for i, (t, b) in enumerate(docs))
    messages = [
        {"role": "system", "content": "Answer from the documents.\n\n" + body},
        {"role": "user", "content": "Question: who designed the saturn v\nAnswer:"},
    ]
    for level in ("balanced", "aggressive"):
        out = _compress(messages, level)
        assert len(out) < len(messages[0]["content"]) // 2, level  # still selected
        assert "Wernher von Braun" in out, level
