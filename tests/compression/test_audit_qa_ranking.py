"""Ranking fixes from an audit with held-out-like QA variants (other layouts and phrasings).

Each test builds documents where the gold one is found only through what the fix restores."""

from __future__ import annotations

from typing import Any

from opencompress.compression import Policy, compress
from opencompress.compression.stages.documents import _Selector
from opencompress.compression.text.bm25 import query_terms

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


def test_a_template_around_the_question_does_not_rank_the_documents() -> None:
    """Only the question lines of the user's message rank the documents: a template's words
    ("search results", "factual", "provide") used to become query terms (held-out-like NQ
    templates: aggressive retention 0.907-0.937 -> 0.957, as without a template)."""
    question = "Question: who designed the saturn v rocket?"
    template = (
        "Using only the search results above, provide a concise factual answer with proper names "
        "and numbers, and cite your sources.\n" + question + "\nThen summarize the documents."
    )
    picked = _Selector(template, 0.45, 1.0, 1.0)
    assert picked.terms == query_terms(question)
    assert picked.whole_context  # the instruction lines still count for the whole-context check
    assert _Selector(question + " " + template.split("\n")[0], 0.45, 1.0, 1.0).terms != query_terms(question)
