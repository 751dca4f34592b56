"""Spans that no stage may alter: client-marked spans, ``Policy.protect`` literals, the question.

WHY verification instead of hiding: stages see the real text (the question-aware stages need the
question's words; a placeholder would hide them), and after each stage the pipeline checks that every
protected literal still occurs at least as often as before in that message. A stage whose change
breaks a protected span is undone for that message. This keeps the rule in one place instead of in
every stage.

Inline markers: a client may wrap text in ``<occ:protect>…</occ:protect>``. The markers are always
removed before the request is forwarded (at every level, ``off`` included) and the inner text becomes
a protected literal. An unclosed opening marker protects the rest of the text.
"""

from __future__ import annotations

from collections.abc import Sequence

MARK_OPEN = "<occ:protect>"
MARK_CLOSE = "</occ:protect>"

QUESTION_MAX_CHARS = 2000


def strip_markers(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` without protect markers, and the spans they enclosed (non-empty ones only)."""
    if MARK_OPEN not in text and MARK_CLOSE not in text:
        return text, ()
    out: list[str] = []
    spans: list[str] = []
    pos = 0
    while True:
        start = text.find(MARK_OPEN, pos)
        if start < 0:
            out.append(text[pos:].replace(MARK_CLOSE, ""))
            break
        out.append(text[pos:start].replace(MARK_CLOSE, ""))
        inner_start = start + len(MARK_OPEN)
        end = text.find(MARK_CLOSE, inner_start)
        inner = text[inner_start:] if end < 0 else text[inner_start:end]
        inner = inner.replace(MARK_OPEN, "")
        out.append(inner)
        if inner.strip():
            spans.append(inner)
        if end < 0:
            break
        pos = end + len(MARK_CLOSE)
    return "".join(out), tuple(spans)


def question_span(text: str, *, small_chars: int) -> str:
    """The part of the last user message that is "the question" and must stay verbatim.

    A short message is the question as a whole. In a long one (documents followed by a question, or
    an agent observation) it is the last paragraph, or the last line when that paragraph is itself
    long."""
    stripped = text.strip()
    if len(stripped) <= small_chars:
        return stripped
    tail = stripped.rsplit("\n\n", 1)[-1].strip()
    if len(tail) > QUESTION_MAX_CHARS:
        tail = tail.rsplit("\n", 1)[-1].strip()[-QUESTION_MAX_CHARS:]
    return tail


def relevant(literals: Sequence[str], text: str) -> tuple[str, ...]:
    """The protected literals that occur in ``text`` (the only ones a stage could break)."""
    return tuple(lit for lit in literals if lit and lit in text)


def counts(literals: Sequence[str], text: str) -> tuple[int, ...]:
    return tuple(text.count(lit) for lit in literals)


def intact(literals: Sequence[str], before: Sequence[int], text: str) -> bool:
    """True when every literal occurs in ``text`` at least as often as it did before the stage."""
    return all(text.count(lit) >= n for lit, n in zip(literals, before, strict=True))
