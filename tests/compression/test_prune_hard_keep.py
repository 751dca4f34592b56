"""Prose pruning never alters abbreviations, quotations or one-letter variables, and stays linear.

Each case is a violation an audit found at the ``aggressive`` level; the control sentence next to it
proves the pruning stage did run on the same message."""

from __future__ import annotations

import pytest

from opencompress.compression import compress
from opencompress.compression.base import Policy
from opencompress.compression.text.prune import prune_prose, quote_spans
from support.timing import LINEAR_BOUND_S, fastest_s

PAD = "Our team will review every item on our list carefully. " * 16
CONTROL = "The plan is very simple and the team is really happy. "


def _aggressive(system: str) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "ok?"}]
    out = compress(messages, policy=Policy(level="aggressive")).messages[0]["content"]
    assert isinstance(out, str)
    return out


@pytest.mark.parametrize(
    "kept",
    [
        "We meet at 9 a.m. and read a.x first.",
        "Write e.g. and i.e. as they stand, and keep *a* and the_thing and that's-it as well.",
        "He said ‘the cat is a dog’ and «the end is near».",
        "She wrote “the end is a start” and „the plan is a map“ and ‹the rule is a law›.",
        'The 5" screen. He said "the cat is a dog".',
        "It measures 5' 10\" tall; he said \"the sum is a number\" and 'the word is a name'.",
        "Let a and b be sides; area is a times b.",
        "Pick (a) one or (b) two; then a + b gives x and x is unknown, or a is b.",
    ],
)
def test_hard_kept_spans_survive_aggressive_compression(kept: str) -> None:
    out = _aggressive(kept + " " + CONTROL + PAD)
    assert kept in out
    assert " very " not in out and " really " not in out  # the control sentence was pruned


def test_quote_detection_is_not_shifted_by_inch_marks_or_apostrophes() -> None:
    text = 'The 5" screen. He said "the cat is a dog". Don’t say ‘it’s the dogs’ toy’ now.'
    spans = [text[s:e] for s, e in sorted(quote_spans(text))]
    assert spans == ['"the cat is a dog"', "‘it’s the dogs’ toy’"]


def test_unclosed_quote_protects_to_the_end_of_its_line_and_never_crosses_a_blank_line() -> None:
    text = 'He said "the cat is a dog\nand the end.\n\nThe cat is "here" now.'
    spans = [text[s:e] for s, e in sorted(quote_spans(text))]
    assert spans == ['"the cat is a dog', '"here"']


def test_quotes_may_span_a_line_break_inside_a_paragraph() -> None:
    text = 'Always reply "the request is a\nrisk" when asked.'
    assert [text[s:e] for s, e in quote_spans(text)] == ['"the request is a\nrisk"']


def test_the_article_a_still_goes_where_it_reads_as_an_article() -> None:
    text = (
        "This is a very simple rule that the team follows for a long time now, and it is a good one.\n"
        "Let x be a number and let the answer be a multiple of x, which is a question of taste here.\n"
    )
    out = prune_prose(text, max_drop=0.5)
    assert out is not None
    assert "is a very" not in out and "for a long" not in out  # articles before nouns went
    assert "Let x be" in out and "of x," in out  # words next to a variable stay
    assert "x" in out.split()


@pytest.mark.parametrize(
    "line",
    [
        "Let a and b be sides; area is a times b, and the volume is a cubed over two for the box.",
        "The vectors a, b and c are the basis; the result is a plus b and the norm is a squared one.",
        "Choose between the option a or the option b, then the value is a over the total count.",
    ],
)
def test_one_letter_variables_and_their_neighbours_are_never_dropped(line: str) -> None:
    out = prune_prose(line + "\n" + CONTROL * 3 + "\n", max_drop=0.5)
    assert out is not None
    words, pruned = line.split(), out.split("\n", 1)[0].split()
    assert len(pruned) < len(words)  # other words of the line still go
    for i, word in enumerate(words):
        if len(word.strip(".,;")) == 1:  # the variable and both neighbours, word for word
            assert " ".join(words[max(0, i - 1) : i + 2]) in " ".join(pruned), word


LONG = "This is a sentence that is really quite long. " * 20


@pytest.mark.parametrize(
    "tail", ["x" * 15000, "<a" * 20000, "“a " * 5000], ids=["run", "markup", "unclosed-quotes"]
)
def test_pathological_runs_prune_in_linear_time(tail: str) -> None:
    text = LONG + tail
    assert fastest_s(lambda: prune_prose(text, 0.3)) < LINEAR_BOUND_S


def test_pathological_markup_compresses_in_linear_time() -> None:
    messages = [{"role": "system", "content": LONG + "<a" * 20000}, {"role": "user", "content": "ok?"}]
    assert fastest_s(lambda: compress(messages, policy=Policy(level="aggressive"))) < LINEAR_BOUND_S
