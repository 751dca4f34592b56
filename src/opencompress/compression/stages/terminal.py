"""Terminal control codes and progress redraws, which draw nothing a reader sees (balanced and up).

Tool output captured from a terminal (forced colours in CI, ``pytest --color=yes``, cargo, npm)
carries ANSI control sequences: SGR colours (``\\x1b[32m``), cursor moves and erase-line codes.
On screen they are invisible, but each costs o200k tokens: a coloured 100-line ``pytest -v`` run
is 2,514 tokens after the other stages and 1,487 without its colour codes. They are removed
everywhere except on line-numbered file-view lines (``text.views``), whose bytes are the file's.
OSC sequences (window titles, ``\\x1b]8;;URL`` hyperlinks) stay: a hyperlink carries an address.

Progress bars (tqdm, pip, docker) redraw one line many times with a bare carriage return. A terminal
shows only what the last redraws leave, so a redraw that a later one fully covers is dropped: the
segment before a ``\\r`` goes when the next segment is at least as wide (then nothing of it stays
visible) and both read as the same progress line: each has a percentage, a bar or an ``n/m``
count, and they are equal once digits and bar glyphs are masked, with a bar or a word left (a unit,
``it/s``, ``eta``, ``Downloading``), so rows of bare numbers are never taken for redraws. What
the terminal finally shows is therefore unchanged. ``\\r\\n`` line ends are never touched, nor
lines with characters whose width is not one column (tabs, wide CJK, combining marks, other
control codes), where covering could not be decided from character counts. Old Mac text, which
ends lines with a bare ``\\r``, is left alone unless consecutive lines are look-alike labelled
progress lines.
"""

from __future__ import annotations

import re
import unicodedata

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.classify import TERMINAL_CODE
from opencompress.compression.text.views import NUMBERED_LINE, NUMBERED_LINES

_BAR = "█▉▊▋▌▍▎▏━╸╺─■□▰▱#=>"
_PROGRESS = re.compile(r"\d%|[█▉▊▋▌▍▎▏━╸╺■▰]|\d/\d|\[=*>")
_NUMBER = re.compile(r"[.,]?\d[\d.,]*")
_FILL = re.compile(rf"[{re.escape(_BAR)}\s]+")
_SGR_OR_ERASE = re.compile(r"\x1b\[[0-9;]*[mK]")
_ASCII = re.compile(r"[\x20-\x7e]*")
_LABEL = re.compile(r"[A-Za-z]{2}|[█▉▊▋▌▍▎▏━╸╺■▰]")


def _one_column(char: str) -> bool:
    """Is ``char`` drawn one terminal column wide? Printable, not wide or full-width, not combining."""
    if unicodedata.category(char)[0] in "CZ" and char != " " and char != "\u00a0":
        return False  # control, format (zero-width), line and paragraph separators
    return unicodedata.east_asian_width(char) not in "WF" and not unicodedata.combining(char)


def _display(segment: str) -> str | None:
    """What ``segment`` draws, or None when its width cannot be trusted: a control code other than
    colour or erase-line (a cursor move redraws another line), or a character of another width."""
    if "\x1b" in segment:
        segment = _SGR_OR_ERASE.sub("", segment)
        if "\x1b" in segment:
            return None
    if _ASCII.fullmatch(segment) or all(_one_column(c) for c in set(segment) if not " " <= c <= "~"):
        return segment
    return None


def _skeleton(shown: str) -> str:
    """The progress line with its numbers and its bar masked: equal for two redraws of one bar."""
    return _FILL.sub(" ", _NUMBER.sub("0", shown)).strip()


def collapse_redraws(line: str) -> str:
    """``line`` (no ``\\n`` in it) without the carriage-return redraws a later redraw covers."""
    body, end = (line[:-1], "\r") if line.endswith("\r") else (line, "")
    if "\r" not in body:
        return line
    kept: list[tuple[str, str | None]] = []  # (raw segment, what it shows)
    for raw in body.split("\r"):
        shown = _display(raw)
        while kept:
            prev_raw, prev_shown = kept[-1]
            if prev_raw == "":
                kept.pop()  # an empty segment draws nothing: "a\r\rb" shows what "a\rb" shows
                continue
            if shown is None or prev_shown is None or len(shown) < len(prev_shown):
                break
            if not (_PROGRESS.search(shown) and _PROGRESS.search(prev_shown)):
                break
            skeleton = _skeleton(shown)
            if skeleton != _skeleton(prev_shown) or not _LABEL.search(skeleton):
                break
            kept.pop()
        kept.append((raw, shown))
    return "\r".join(raw for raw, _ in kept) + end


def _strip_codes(text: str) -> str:
    if "\x1b" not in text:
        return text
    if NUMBERED_LINES.search(text) is None:
        return TERMINAL_CODE.sub("", text)
    return "\n".join(
        line if NUMBERED_LINE.match(line) else TERMINAL_CODE.sub("", line) for line in text.split("\n")
    )


def _collapse_all(text: str) -> str:
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if "\r" in line[:-1] and not NUMBERED_LINE.match(line):
            lines[k] = collapse_redraws(line)
    return "\n".join(lines)


def clean(text: str) -> str:
    """``text`` as a terminal finally shows it: redraws a later redraw covers, then control codes,
    removed. Redraws go first, while the erase and cursor codes still say which lines are safe."""
    if "\r" in text and "\r" in text.replace("\r\n", ""):
        text = _collapse_all(text)
    return _strip_codes(text)


class Terminal:
    name = "terminal"

    def transform(self, text: str, info: TextInfo) -> str:
        if "\x1b" not in text and "\r" not in text:
            return text
        return clean(text)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages)
