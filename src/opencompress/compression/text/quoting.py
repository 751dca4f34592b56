"""Where a text is quoted: spans the aliases stage must not rewrite (moved out of ``aliases`` so
that module stays about aliasing; :func:`quoted_spans` documents the rules).

Prose pruning has its own scanner (``text.prune.quote_spans``) with different rules on purpose:
it looks for quotations in sentences (typographic quotes, guillemets, a quote opening only at a
word start), while this one looks for string literals in code and tool output (triple quotes,
fences, escaped JSON quotes, Python string prefixes).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

_QUOTE_TOKEN = re.compile(r"\"\"\"|'''|```|[\"'`]")
_STRING_PREFIX = frozenset({"f", "r", "b", "u", "rb", "br", "fr", "rf"})


def apostrophe(text: str, pos: int) -> bool:
    """Whether the ``'`` at ``pos`` is an apostrophe (``don't``), not a quote: letters on both
    sides, unless the letters before it are a string prefix such as Python's ``f'…'``."""
    if not (0 < pos < len(text) - 1 and text[pos - 1].isalpha() and text[pos + 1].isalpha()):
        return False
    j = pos - 1
    while j >= 0 and text[j].isalpha() and pos - j <= 3:
        j -= 1
    run = text[j + 1 : pos]
    if run.lower() in _STRING_PREFIX and (j < 0 or not (text[j].isalnum() or text[j] == "_")):
        return False
    return True


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _whole_line(text: str, spans: list[tuple[int, int]], pos: int, line_end: int) -> None:
    """Make the whole line of ``pos`` one quoted span (replacing spans already on that line)."""
    start = text.rfind("\n", 0, pos) + 1
    while spans and spans[-1][0] >= start:
        spans.pop()
    spans.append((start, line_end))


def _scan(text: str, begin: int, spans: list[tuple[int, int]]) -> int:
    """Append the quoted spans of ``text[begin:]``; return where to scan again (after the line of
    a triple quote that never closes, whose rest was skipped as if quoted), or -1 when done."""
    opened = ""
    open_at = line_end = 0
    for m in _QUOTE_TOKEN.finditer(text, begin):
        pos, tok = m.start(), m.group()
        if len(opened) == 1 and pos > line_end:
            _whole_line(text, spans, open_at, line_end)
            opened = ""
        escaped = pos > 0 and text[pos - 1] == "\\"
        if (escaped and opened) or (tok == "'" and apostrophe(text, pos)):
            continue
        if not opened:
            opened, open_at, line_end = tok, pos, _line_end(text, pos)
        elif tok == opened:
            spans.append((open_at, m.end()))
            opened = ""
    if not opened:
        return -1
    line_end = _line_end(text, open_at)
    _whole_line(text, spans, open_at, line_end)
    return line_end if len(opened) == 3 and line_end < len(text) else -1


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, disjoint ``[start, end)`` spans of ``text`` that lie inside quotes, quote characters
    included, in linear time (one pass over the quote characters, again after a triple quote that
    never closes; each kind of triple can cause that once).

    Wider rather than narrower where it can be: a single quote left open on its line makes that
    whole line quoted (a multi-line string would otherwise look unquoted before its opening
    quote); an escaped quote can open a string (``\\"…\\"`` in escaped JSON) but never closes one.
    Triple quotes and fences pair up across lines, but one that never closes quotes only its own
    line: a file view that starts inside a docstring shows a lone closing triple quote, and taking
    it as an opening would make all the rest of the text, ``(Open file: …)`` footer included,
    count as quoted."""
    spans: list[tuple[int, int]] = []
    if '"' not in text and "'" not in text and "`" not in text:
        return spans
    begin = 0
    while begin >= 0:
        begin = _scan(text, begin, spans)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@lru_cache(maxsize=256)
def _bounds(text: str) -> tuple[list[int], list[int]]:
    """Span starts and ends of ``text``; cached because the aliases stage asks twice per text (when
    counting candidates and when rewriting), and the scan is a Python loop over quote characters."""
    spans = quoted_spans(text)
    return [a for a, _ in spans], [b for _, b in spans]


class Quoted:
    """Interval lookup over :func:`quoted_spans` (binary search), scanned on the first question:
    most texts never ask (no candidate string in them)."""

    __slots__ = ("_bounds", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._bounds: tuple[list[int], list[int]] | None = None

    def hit(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` overlaps a quoted span."""
        if self._bounds is None:
            self._bounds = _bounds(self._text)
        starts, ends = self._bounds
        i = bisect_right(starts, end - 1) - 1
        return i >= 0 and ends[i] > start
