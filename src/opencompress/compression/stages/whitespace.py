"""Lossless whitespace normalisation outside code.

Trailing spaces and tabs, ``\\r\\n`` line ends, and runs of blank lines. Fenced code blocks
(```` ``` ```` / ``~~~``), line-numbered code views (``12:    x = 1``, ``cat -n``'s
``    12<TAB>x = 1``, Claude Code's ``    12→x = 1``: the forms ``text.views`` knows) and whole texts
classified as code, diffs or JSON are left byte-for-byte alone, because there whitespace can be
meaning (Python indentation, string literals, diff context). Leading indentation and spaces
*inside* a line are never touched anywhere: collapsing them saves characters but almost no o200k
tokens (a run of spaces is usually one token), and a mixed message may hold code that only looks
like prose.

This is cheap hygiene rather than a big lever; it also lets the duplicate stages see through
whitespace-only differences.
"""

from __future__ import annotations

import re

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.text.views import NUMBERED_LINE

_FENCE = re.compile(r"(^[ \t]*(```|~~~)[^\n]*\n.*?(?:^[ \t]*\2[ \t]*$|\Z))", re.S | re.M)
# The lookbehind makes a match start only where a run of spaces/tabs starts: without it the engine
# retried ``[ \t]+$`` at every position of a long run that is not at a line end, which is quadratic
# (40k spaces mid-line took seconds, on the event loop).
_TRAILING = re.compile(r"(?<![ \t])[ \t]+$", re.M)
_BLANK_RUNS = re.compile(r"\n(?:[ \t]*\n){2,}")
_UNTOUCHED = frozenset({"code", "diff", "json", "empty"})


def _strip_trailing(chunk: str) -> str:
    """Trailing spaces and tabs removed from every line except line-numbered code views
    (``1459:    x,   ``, ``  1459<TAB>    x,   ``), whose trailing spaces may be part of the
    viewed code: an ``old_str`` copied from the view must still match the file. One linear pass:
    the line-number check runs only on lines that do end in whitespace."""

    def strip_unless_numbered(m: re.Match[str]) -> str:
        line_start = chunk.rfind("\n", 0, m.start()) + 1
        return m.group() if NUMBERED_LINE.match(chunk, line_start) else ""

    return _TRAILING.sub(strip_unless_numbered, chunk)


def _normalise_chunk(chunk: str) -> str:
    if "\r" in chunk:
        chunk = chunk.replace("\r\n", "\n")
    return _BLANK_RUNS.sub("\n\n", _strip_trailing(chunk))


def _strip_end(chunk: str) -> str:
    """``chunk`` without its trailing blank lines and spaces, except the last line's own trailing
    spaces when it is a numbered view line (the view's last line is code like the others)."""
    stripped = chunk.rstrip()
    line_start = stripped.rfind("\n") + 1
    if len(stripped) == len(chunk) or not NUMBERED_LINE.match(chunk, line_start):
        return stripped
    line_end = chunk.find("\n", len(stripped))
    return chunk if line_end < 0 else chunk[:line_end]


def normalise(text: str) -> str:
    """``text`` with whitespace normalised outside fenced code blocks."""
    if "```" not in text and "~~~" not in text:
        return _strip_end(_normalise_chunk(text)).lstrip("\n")
    parts = _FENCE.split(text)
    # split() with 2 groups yields [outside, block, fence, outside, block, fence, ..., outside]
    pieces: list[str] = []
    last = len(parts) - 1
    for i in range(0, len(parts), 3):
        chunk = _normalise_chunk(parts[i])
        if i == 0:
            chunk = chunk.lstrip("\n")
        if i == last:
            chunk = _strip_end(chunk)
        pieces.append(chunk)
        if i + 1 < len(parts):
            pieces.append(parts[i + 1])
    return "".join(pieces)


class Whitespace:
    name = "whitespace"

    def transform(self, text: str, info: TextInfo) -> str:
        if info.kind in _UNTOUCHED:
            return text
        return normalise(text)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages)
