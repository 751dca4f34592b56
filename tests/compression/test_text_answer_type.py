"""Expected answer type: a "when" question ranks sentences with a date higher, "how many" ones
sentences with a quantity; other questions are ranked on their words alone."""

from __future__ import annotations

import pytest

from opencompress.compression.text.answer_type import answer_type_check
from opencompress.compression.text.bm25 import query_terms
from opencompress.compression.text.segments import split_documents
from opencompress.compression.text.selection import select_sentences


@pytest.mark.parametrize(
    ("question", "sentence", "holds"),
    [
        (
            "when did the united kingdom enter world war 2",
            "On 1 September 1939, Germany invaded Poland.",
            True,
        ),
        ("Question: when did the united kingdom enter world war 2\nAnswer:", "It began in the 1560s.", True),
        ("what year was the eiffel tower built", "It opened on March 31 for the fair.", True),
        ("when did the united kingdom enter world war 2", "The United Kingdom fought in the war.", False),
        ("how many players are on a rugby team", "Each side fields fifteen players.", True),
        ("how many players are on a rugby team", "Rugby is played with an oval ball.", False),
    ],
)
def test_sentences_are_checked_for_the_asked_type(question: str, sentence: str, holds: bool) -> None:
    check = answer_type_check(question)
    assert check is not None and check(sentence) is holds


@pytest.mark.parametrize(
    "question",
    [
        "who wrote the iliad",
        "where is the eiffel tower",
        "what happens when ice melts",
        "When should I use a mutex instead of a channel?",
        "when do you use a semicolon",
        "Question: when to prune a rose bush",
    ],
)
def test_other_questions_have_no_type(question: str) -> None:
    assert answer_type_check(question) is None


DOCS = (
    "Answer the question from the documents.\n\n"
    "Document [1](Title: Anglo-French relations) The United Kingdom watched the war come for years. "
    "Diplomats met often.\n"
    "Document [2](Title: Britain) The United Kingdom declared war on Germany on 3 September 1939. "
    "The Dominions decided separately.\n"
    "Document [3](Title: Tea) Tea is an aromatic beverage. It is prepared by pouring hot water over "
    "cured leaves.\n"
)
QUESTION = "when did the united kingdom enter the war"


def test_a_dated_sentence_outranks_a_wordier_undated_one() -> None:
    segs = split_documents(DOCS)
    assert len(segs) == 3
    terms = query_terms(QUESTION)
    budget = 0.3  # room for about one sentence

    def kept(type_weight: float) -> str:
        out = select_sentences(DOCS, segs, terms, budget, question=QUESTION, type_weight=type_weight)
        assert out is not None
        return out

    assert "1939" not in kept(0.0)  # on words alone, the shorter undated sentence wins
    assert "declared war on Germany on 3 September 1939" in kept(1.0)
    assert "watched the war" not in kept(1.0)


def test_a_date_question_is_recognised_wherever_it_asks() -> None:
    """Rephrased "when" questions used to lose the date boost (audit with rephrased NQ questions)."""
    for question in (
        "in which year did the berlin wall fall",
        "Do you know when the berlin wall fell?",
        "Please tell me when the berlin wall fell.",
        "The story is set in what decade?",
    ):
        assert answer_type_check(question) is not None, question
    for question in ("What happens when you heat ice?", "Which dish should I cook when guests come?"):
        assert answer_type_check(question) is None, question
