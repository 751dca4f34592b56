"""Folding runs of near-identical log / shell lines (balanced and up).

A run is at least ``min_run`` consecutive lines that each look like the run's first line: equal, or
equal once digits are masked (progress, timestamps, counters), or the same number of words with the
first word and at least ``similarity`` of the word positions equal once digits are masked
(``Requirement already satisfied: X in P (V)``, ``<timestamp> INFO [exec-3] … 201 12ms req_id=…``).
The first and last line of a run are kept, and so is **every** line that mentions an error, a
warning, a failure, an exception or a traceback (case-insensitive), because that one different line
is usually why the log is in the prompt. Each stretch of at least two dropped lines becomes
``[… N similar lines …]`` followed by what *varied* in them
(``[… 3 similar lines, varying: pytz (2024.1) | six (1.16.0) | idna (3.6) …]``): the shared template
goes, the package names, versions, counters and ids stay, so numbers and identifiers are not lost.

Every folded line lists the same columns: the word positions that vary anywhere in the run, even
where this line happens to repeat the first line's word. Listing only the words that differ from
the first line was ambiguous: in ``Flight LH404 … gate B07 at 09:15`` after a first line at 09:15,
``LH404 B07`` does not say whether B07 is the gate or the time, and in a ``| sku | price | stock |``
table ``P-002 7`` read as price 7. With fixed columns the k-th word of an entry is always the k-th
varying word of the first line's template.

A stretch is only replaced when the marker counts fewer o200k tokens than the lines it replaces,
and the folded text as a whole must count fewer tokens than the original: characters are not
tokens (ANSI colour codes and paths are cheap per character, the marker's ``|`` separators are not),
and comparing characters once made a 553-token cargo log 562 tokens long.

Lines that carry a line-number prefix (``12: code``, ``cat -n`` and Claude Code file views: see
``text.views``) and fenced code are never folded: those are code the model may edit by line
number, not log noise.
"""

from __future__ import annotations

import re

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.text.views import NUMBERED_LINE
from opencompress.tokens import count_text

_KEEP = re.compile(r"error|warn|fail|exception|traceback|fatal|panic", re.I)
_DIGITS = re.compile(r"\d+")
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)")
_FOLDABLE_KINDS = frozenset({"log", "prose", "documents"})


def marker(count: int, varying: list[str] | None = None) -> str:
    parts = [v for v in varying or () if v]
    if not parts:
        return f"[… {count} similar lines …]"
    return f"[… {count} similar lines, varying: {' | '.join(parts)} …]"


def varying(anchor: list[str], line: str, columns: list[int] | None = None) -> str:
    """The words of ``line`` at the run's varying ``columns`` (word positions), or, without
    ``columns``, the positions where it differs from the run's first line. A line with another
    word count than the first line gives the words the first line does not have."""
    words = line.split()
    if len(words) == len(anchor):
        if columns is not None:
            return " ".join(words[k] for k in columns)
        return " ".join(w for w, a in zip(words, anchor, strict=True) if w != a)
    known = set(anchor)
    return " ".join(w for w in words if w not in known)


def varying_columns(anchor: list[str], lines: list[str]) -> list[int]:
    """The word positions at which any line of ``lines`` with as many words as ``anchor`` differs
    from it: the columns every folded line lists, so each entry reads the same way."""
    differs = [False] * len(anchor)
    for line in lines:
        words = line.split()
        if len(words) == len(anchor):
            for k, (w, a) in enumerate(zip(words, anchor, strict=True)):
                if w != a:
                    differs[k] = True
    return [k for k, d in enumerate(differs) if d]


def _shape(line: str) -> str:
    return _DIGITS.sub("0", line)


class LogFold:
    name = "log_fold"

    def __init__(self, *, min_run: int = 6, similarity: float = 0.6) -> None:
        self.min_run = min_run
        self.similarity = similarity

    def similar(self, anchor: str, line: str) -> bool:
        """Does ``line`` belong to the run that ``anchor`` starts? Words are compared with their
        digits masked, so a timestamp, a duration or a counter in any column (the first one too:
        ``2024-05-07T09:40:01Z INFO …``) does not break a run; the columns that vary are still
        listed word for word on the folded lines."""
        if line == anchor:
            return True
        if not line.strip() or NUMBERED_LINE.match(line):
            return False
        a, b = anchor.split(), line.split()
        if len(a) != len(b):
            return False
        if _shape(line) == _shape(anchor):
            return True
        if len(a) < 3 or _shape(a[0]) != _shape(b[0]):
            return False
        same = sum(1 for x, y in zip(a, b, strict=True) if x == y or _shape(x) == _shape(y))
        return same >= 2 and same >= self.similarity * len(a)

    def transform(self, text: str, info: TextInfo) -> str:
        if info.small or info.kind not in _FOLDABLE_KINDS or text.count("\n") < self.min_run:
            return text
        return self.fold(text)

    def fold(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        changed = False
        in_fence = False
        i, n = 0, len(lines)
        while i < n:
            line = lines[i]
            if _FENCE.match(line):
                in_fence = not in_fence
            if in_fence or not line.strip() or NUMBERED_LINE.match(line):
                out.append(line)
                i += 1
                continue
            j = i + 1
            while j < n and not _FENCE.match(lines[j]):
                if self.similar(line, lines[j]):
                    j += 1
                elif _KEEP.search(lines[j]) and j + 1 < n and self.similar(line, lines[j + 1]):
                    j += 2  # an error line inside a run is part of it (and is kept below)
                else:
                    break
            if j - i >= self.min_run:
                out.extend(self._fold_run(lines[i:j]))
                changed = True
            else:
                out.extend(lines[i:j])
            i = j
        if not changed:
            return text
        folded = "\n".join(out)
        # Each stretch was checked on its own; a token can run across the line breaks around a
        # marker, so the whole text is checked once more (one tokenizer pass over a changed text).
        return folded if count_text(folded) < count_text(text) else text

    @staticmethod
    def _fold_run(run: list[str]) -> list[str]:
        anchor = run[0].split()
        columns = varying_columns(anchor, run)
        kept: list[str] = [run[0]]
        stretch: list[str] = []

        def close() -> None:
            if len(stretch) >= 2:
                folded = marker(len(stretch), [varying(anchor, x, columns) for x in stretch])
                if count_text(folded) < count_text("\n".join(stretch)):
                    kept.append(folded)
                    stretch.clear()
                    return
            kept.extend(stretch)
            stretch.clear()

        for line in run[1:-1]:
            # A line with another word count has no place in the columns: it stays whole.
            if _KEEP.search(line) or len(line.split()) != len(anchor):
                close()
                kept.append(line)
            else:
                stretch.append(line)
        close()
        kept.append(run[-1])
        return kept

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages, small_chars=800)
