"""Detect few-shot demonstrations (repeated question → answer blocks) inside one message.

A demonstration starts at a line with a *question-like* label ("Question:", "Q:", "Input:",
"Example 3:", "### Problem") that repeats at least :data:`MIN_DEMOS` times, and must contain an
*answer-like* marker after its first line ("Answer:", "A:", "Output:", "The answer is …"). Both
label sets are explicit on purpose: a generic "any repeated label" rule also matches tool manuals
("signature:/docstring:" per command) and log dumps, and dropping those would be destructive.

Spans include their trailing whitespace, so removing a demonstration leaves the others verbatim.
Text before the first demonstration (the instruction) and after the last one (the real question,
a closing instruction after a blank line) is not part of any span."""

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


@dataclass(frozen=True)
class Demo:
    start: int
    end: int  # includes trailing whitespace up to the next demonstration


def _blocks(text: str, starts: list[int]) -> list[tuple[int, int]]:
    return [(s, starts[i + 1] if i + 1 < len(starts) else len(text)) for i, s in enumerate(starts)]


def _answered(text: str, start: int, end: int) -> re.Match[str] | None:
    first_nl = text.find("\n", start, end)
    if first_nl < 0:
        return None
    marks = list(_ANSWER_MARK.finditer(text, first_nl, end))
    return marks[-1] if marks else None


def find_demonstrations(text: str, min_demos: int = MIN_DEMOS) -> list[Demo]:
    """The demonstrations in ``text`` in order, or ``[]`` when fewer than ``min_demos``."""
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
        for i, (s, e) in enumerate(blocks):
            mark = _answered(text, s, e)
            if mark is None or not text[mark.end() : e].strip():
                continue  # no answer after the marker: this is the real question, not an example
            if i == len(blocks) - 1:
                e = _end_of_last(text, mark.end(), e)
            demos.append(Demo(s, e))
        if len(demos) >= min_demos:
            return demos
    return []


def _end_of_last(text: str, answer_at: int, end: int) -> int:
    """The last demonstration ends at the first blank line after its answer marker: whatever
    follows (the real question, a closing instruction) is not a demonstration."""
    gap = re.compile(r"\n[ \t]*\n\s*").search(text, answer_at, end)
    return gap.end() if gap else end
