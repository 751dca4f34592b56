"""Detect few-shot demonstrations (repeated question → answer blocks) inside one message.

A demonstration starts at a line with a *question-like* label ("Question:", "Q:", "Input:",
"Example 3:", "### Problem") that repeats at least :data:`MIN_DEMOS` times, and must contain an
*answer-like* marker after its first line ("Answer:", "A:", "Output:", "The answer is …") with an
answer after it, before the next blank line. Both label sets are explicit on purpose: a generic
"any repeated label" rule also matches tool manuals ("signature:/docstring:" per command) and log
dumps, and dropping those would be destructive.

Spans include their trailing whitespace, so removing a demonstration leaves the others verbatim.
Text before the first demonstration (the instruction) and after the last one (the real question,
a closing instruction after a blank line) is not part of any span.

Finding the blocks is not deciding that they may be dropped: labelled data ("Review: …" /
"Sentiment: …" rows) and pasted transcripts ("User:" / "Assistant:") have the same shape, and a
question about them needs every row. :class:`Blocks` therefore also says where the blocks of the
label end and whether the last one is answered, which is what
:mod:`opencompress.compression.stages.fewshot` decides with."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_DEMOS = 3

_QUESTION_LABELS = (
    "question|q|problem|input|example|query|user|human|task|exercise|prompt|sentence|text|passage|"
    "premise|review|claim|statement|instruction|context|story|word|source"
)
_LABEL_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(" + _QUESTION_LABELS + r")(?:[ \t]*#?\d{1,3})?(?:\*\*)?[ \t]*[:.)]",
    re.M | re.I,
)
_ANSWER_MARK = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*)?(?:a|answer|final answer|output|solution|response|assistant|label|"
    r"result|target|rationale|explanation|ai|bot|sentiment|category|translation|summary)(?:\*\*)?[ \t]*:"
    r"|\bthe (?:final )?answer is\b",
    re.M | re.I,
)
_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Demo:
    start: int
    end: int  # includes trailing whitespace up to the next demonstration


@dataclass(frozen=True)
class Blocks:
    """Every block of one repeated question label in a text.

    ``demos`` are the answered blocks, in order. ``last`` is the last block of the label, answered
    or not: when the text also holds the real question, that is where it is. ``start``/``end``
    bound all the blocks: ``text[:start]`` is the instruction and ``text[end:]`` what follows the
    last block (a closing instruction, or a question about the blocks)."""

    label: str
    demos: tuple[Demo, ...]
    last: Demo
    last_answered: bool
    start: int

    @property
    def end(self) -> int:
        return self.last.end


def _blocks(text: str, starts: list[int]) -> list[tuple[int, int]]:
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def _answered(text: str, start: int, end: int) -> re.Match[str] | None:
    """The block's last answer marker, when an answer follows it before the next blank line
    ("A:" then a blank line is a question waiting for its answer, not an example)."""
    first_nl = text.find("\n", start, end)
    if first_nl < 0:
        return None
    marks = list(_ANSWER_MARK.finditer(text, first_nl, end))
    if not marks:
        return None
    mark = marks[-1]
    gap = _BLANK_LINE.search(text, mark.end(), end)
    return mark if text[mark.end() : gap.start() if gap else end].strip() else None


def find_blocks(text: str, min_demos: int = MIN_DEMOS) -> Blocks | None:
    """The blocks of the first label with at least ``min_demos`` answered blocks, or ``None``."""
    by_label: dict[str, list[int]] = {}
    order: list[str] = []
    for m in _LABEL_LINE.finditer(text):
        label = m.group(1).lower()
        if label not in by_label:
            by_label[label] = []
            order.append(label)
        by_label[label].append(m.start())
    for label in order:
        starts = by_label[label]
        if len(starts) < min_demos:
            continue
        demos: list[Demo] = []
        blocks = _blocks(text, starts)
        last = Demo(*blocks[-1])
        for i, (s, e) in enumerate(blocks):
            mark = _answered(text, s, e)
            if mark is None:
                continue  # no answer after the marker: this is the real question, not an example
            if i == len(blocks) - 1:
                last = Demo(s, _end_of_last(text, mark.end(), e))
                demos.append(last)
            else:
                demos.append(Demo(s, e))
        if len(demos) >= max(min_demos, 1):
            return Blocks(label, tuple(demos), last, demos[-1] is last, starts[0])
    return None


def find_demonstrations(text: str, min_demos: int = MIN_DEMOS) -> list[Demo]:
    """The demonstrations in ``text`` in order, or ``[]`` when fewer than ``min_demos``."""
    found = find_blocks(text, min_demos)
    return list(found.demos) if found else []


def carries_label(text: str, label: str) -> bool:
    """``text`` has a line opening with the question label ``label`` ("Question:", "Review:"):
    a question of the same shape as the demonstrations, not one about them."""
    return any(m.group(1).lower() == label for m in _LABEL_LINE.finditer(text))


def _end_of_last(text: str, answer_at: int, end: int) -> int:
    """The last demonstration ends at the first blank line after its answer marker: whatever
    follows (the real question, a closing instruction) is not a demonstration."""
    gap = _BLANK_LINE.search(text, answer_at, end)
    return gap.end() if gap else end
