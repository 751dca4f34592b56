"""Sentence boundaries and the date-question test are linear in the text length.

Both regexes were quadratic on long blank runs: 100k spaces with no line break took 4.8 s in
``sentence_spans`` and a question padded with 20k newlines took 5.5 s in ``answer_type_check``.
The bound below is ~100x what the linear versions need, and ~10x under the old cost."""

from __future__ import annotations

import time

from opencompress.compression.text.answer_type import answer_type_check
from opencompress.compression.text.sentences import sentence_spans


def _seconds(fn: object, arg: str) -> float:
    start = time.perf_counter()
    fn(arg)  # type: ignore[operator]
    return time.perf_counter() - start


def test_a_long_blank_run_is_scanned_once() -> None:
    text = "Navigation" + " " * 100_000 + "Footer text."
    assert _seconds(sentence_spans, text) < 0.5
    assert sentence_spans(text) == [(0, len(text))]


def test_a_question_padded_with_newlines_is_scanned_once() -> None:
    question = "Tell me about the Nile floods" + "\n" * 30_000 + "thanks!"
    assert _seconds(answer_type_check, question) < 0.5
    assert answer_type_check(question) is None


def test_boundaries_are_unchanged() -> None:
    text = "First one.  \n  Second one! Third   \n\nFourth. dr. Who? Mr. Smith came. U.S. Army"
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["First one.", "Second one!", "Third", "Fourth. dr. Who?", "Mr. Smith came.", "U.S. Army"]
    assert answer_type_check("Context:\n  \n  When did it open?") is not None
    assert answer_type_check("Read this.\n\n\nwhen was it built") is not None
    assert answer_type_check("Note: when should I go?") is None
