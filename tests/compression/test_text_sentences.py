"""Sentence spans: exact character spans, abbreviations are not boundaries."""

from __future__ import annotations

from opencompress.compression.text.sentences import sentence_spans


def _split(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def test_splits_on_end_punctuation_and_line_breaks() -> None:
    text = 'It began in 1901. He said "no." Then it rained!\nNew line here? Yes'
    assert _split(text) == ["It began in 1901.", 'He said "no."', "Then it rained!", "New line here?", "Yes"]


def test_abbreviations_and_initials_do_not_split() -> None:
    text = "Dr. Smith met John F. Kennedy in the U.S. Army. It was 3 p.m. on Monday."
    assert _split(text) == ["Dr. Smith met John F. Kennedy in the U.S. Army.", "It was 3 p.m. on Monday."]


def test_only_whitespace_lies_between_spans() -> None:
    text = "  One.  Two!\n\n Three?  "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["One.", "Two!", "Three?"]
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        assert text[e1:s2].strip() == ""


def test_sub_range() -> None:
    text = "Skip me. Take this. And this."
    assert [text[s:e] for s, e in sentence_spans(text, 9)] == ["Take this.", "And this."]
    assert sentence_spans("") == []
