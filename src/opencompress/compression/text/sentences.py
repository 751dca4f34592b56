"""Regex sentence splitting that returns character spans, so callers can cut the original text
without re-joining (whitespace and numbers stay byte-identical).

A boundary is end punctuation (optionally followed by a closing quote/bracket) plus whitespace plus
something that can start a sentence, or a line break. Common abbreviations ("Dr.", "U.S.", "e.g.",
single initials) are not boundaries. It is approximate by design: a missed boundary only makes a
unit coarser, never loses text."""

from __future__ import annotations

import re

# The line-break branch starts only where a run of blanks starts (``(?<![ \t])``): tried at every
# blank of a long run that ends in no newline, ``[ \t]*\n`` rescanned the rest of the run each
# time (quadratic: 100k spaces took 4.8 s). A match can only start where the run starts anyway.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*[ \t]+(?=[\"'“‘(\[]?[A-Z0-9])|(?<![ \t])[ \t]*\n\s*")
_ABBREV = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc e.g i.e vol fig al inc ltd co corp jan feb mar apr jun jul "
    "aug sep sept oct nov dec gen col lt sgt capt rev est approx dept univ ft".split()
)
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.[\"'”’)\]]*$")


def _is_abbreviation(prefix: str) -> bool:
    m = _LAST_WORD.search(prefix[-24:])
    if not m:
        return False
    word = m.group(1)
    if len(word) == 1 and word.isupper():  # an initial: "John F. Kennedy"
        return True
    if "." in word:  # "U.S." / "e.g." style
        return True
    return word.lower() in _ABBREV


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans ``(s, e)`` of the sentences in ``text[start:end]``, without surrounding whitespace.

    Consecutive spans are separated only by whitespace (and closing punctuation stays with its
    sentence), so ``text[s0:e_last]`` of any run of spans is the original run verbatim."""
    stop = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    while cursor < stop and text[cursor].isspace():
        cursor += 1
    for m in _BOUNDARY.finditer(text, cursor, stop):
        cut = m.start()
        # Closing quotes/brackets matched by the boundary belong to the sentence they close.
        while cut < m.end() and not text[cut].isspace():
            cut += 1
        if cut <= cursor:
            continue
        # Only the last few characters decide (``_is_abbreviation`` looks at 24): slicing from the
        # sentence start would copy a growing prefix at every skipped abbreviation.
        if "\n" not in m.group(0) and _is_abbreviation(text[max(cursor, cut - 24) : cut]):
            continue
        spans.append((cursor, cut))
        cursor = m.end()
    tail_end = stop
    while tail_end > cursor and text[tail_end - 1].isspace():
        tail_end -= 1
    if tail_end > cursor:
        spans.append((cursor, tail_end))
    return spans
