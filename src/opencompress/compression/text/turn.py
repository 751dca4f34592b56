"""Shared rules for the query-aware stages: which messages they may touch.

Prefix stability: only messages after ``ctx.frozen_until`` (the last assistant message) belong to
the current turn; everything before is shared with earlier turns and must compress to the same
bytes whatever the new question is. The last user message, when it is in the current turn, is the
question itself and is never altered, with one exception for :func:`edit_question`: when it holds
the documents the question is about, those documents (and only they) may be cut. Only string
content and ``text`` parts are edited."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from opencompress.compression.base import Message, StageContext

TextEdit = Callable[[str], str | None]


class Span(Protocol):
    """A selectable block of a text (a document, a demonstration): ``text[start:end]``."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


S = TypeVar("S", bound=Span)


def last_user_index(messages: Sequence[Message]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            return i
    return -1


def edit_current(
    messages: list[Message],
    ctx: StageContext,
    roles: Sequence[str],
    min_chars: int,
    edit: TextEdit,
) -> list[Message]:
    """Apply ``edit`` to each eligible text of the current turn; ``None`` from it means unchanged.
    Returns the input list itself when nothing changed (cheap identity for the pipeline)."""
    skip = last_user_index(messages)
    out: list[Message] | None = None
    for i in range(max(ctx.frozen_until + 1, 0), len(messages)):
        m = messages[i]
        if i == skip or m.get("role") not in roles:
            continue
        new_content = _edit_content(m.get("content"), min_chars, edit)
        if new_content is None:
            continue
        if out is None:
            out = list(messages)
        out[i] = {**m, "content": new_content}
    return messages if out is None else out


def texts_of(message: Message) -> list[str]:
    """The message's editable texts: its string content, or its ``text`` parts."""
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return []


def text_outside(text: str, spans: Sequence[Span]) -> str:
    """What is not in ``spans``: the text before, between and after them, one piece per line.
    When the question shares a message with documents or demonstrations, this is where it is."""
    cuts = [0, *(x for sp in spans for x in (sp.start, sp.end)), len(text)]
    pieces = (text[a:b].strip() for a, b in zip(cuts[::2], cuts[1::2], strict=True))
    return "\n".join(p for p in pieces if p)


def question_blocks(
    message: Message, min_chars: int, find: Callable[[str], list[S]]
) -> tuple[dict[str, list[S]], str]:
    """The question message's texts of at least ``min_chars`` in which ``find`` finds blocks
    (with them), and the message's text outside those blocks. ``({}, "")`` when there are none."""
    texts = texts_of(message)
    found = {t: blocks for t in texts if len(t) >= min_chars and (blocks := find(t))}
    if not found:
        return {}, ""
    return found, "\n".join(text_outside(t, found[t]) if t in found else t for t in texts)


def edit_question(messages: list[Message], index: int, edit: TextEdit) -> list[Message]:
    """Apply ``edit`` to the texts of the question's message at ``index``; the caller's ``edit``
    must keep the question itself (the text outside the documents) byte for byte."""
    new_content = _edit_content(messages[index].get("content"), 0, edit)
    if new_content is None:
        return messages
    out = list(messages)
    out[index] = {**messages[index], "content": new_content}
    return out


def _edit_content(content: object, min_chars: int, edit: TextEdit) -> object | None:
    if isinstance(content, str):
        if len(content) < min_chars:
            return None
        new = edit(content)
        return new if new is not None and len(new) < len(content) else None
    if isinstance(content, list):
        parts: list[object] = []
        changed = False
        for part in content:
            text = part.get("text") if isinstance(part, dict) and part.get("type") == "text" else None
            if isinstance(text, str) and len(text) >= min_chars:
                new = edit(text)
                if new is not None and len(new) < len(text):
                    part = {**part, "text": new}
                    changed = True
            parts.append(part)
        return parts if changed else None
    return None
