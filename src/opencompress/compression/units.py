"""The texts of a request as units the phases work on, and the one rule every change must pass.

A *unit* is one string ``content`` or one ``text`` part of a message. Phases rewrite units, then
:func:`write_back` copies only the changed messages (the caller's list is never mutated). Every
proposed change goes through :func:`checked`: it must be shorter and keep every protected
literal, else it is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opencompress.compression import protect
from opencompress.compression.classify import Kind

Change = tuple[str, int, int]
"""(stage name, chars before, chars after) of one kept change to one text."""


@dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    changes: tuple[Change, ...] = ()
    failed: tuple[str, ...] = ()
    kind: Kind | None = None
    """Content class of ``text`` as the text stages last saw it (saves classifying it again)."""


@dataclass(slots=True)
class Unit:
    """One text of the request: a string ``content`` (part is None) or one ``text`` part."""

    msg: int
    part: int | None
    role: str
    original: str
    call_id: str | None
    protected: tuple[str, ...] = ()
    text: str = ""
    key: bytes = b""
    changes: list[Change] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    kind: Kind | None = None
    kind_of: str | None = None


# ---------------------------------------------------------------------------------------------
# extracting and writing back texts


def role_of(m: Mapping[str, Any]) -> str:
    role = m.get("role")
    return role if isinstance(role, str) else ""


def extract_units(messages: Sequence[Any], start: int = 0) -> list[Unit]:
    units: list[Unit] = []
    for i in range(start, len(messages)):
        m = messages[i]
        if not isinstance(m, Mapping):
            continue
        role = role_of(m)
        call_id = m.get("tool_call_id") if isinstance(m.get("tool_call_id"), str) else None
        content = m.get("content")
        if isinstance(content, str):
            units.append(Unit(i, None, role, content, call_id, text=content))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if (
                    isinstance(part, Mapping)
                    and part.get("type") == "text"
                    and isinstance(part.get("text"), str)
                ):
                    units.append(Unit(i, j, role, part["text"], call_id, text=part["text"]))
    return units


def write_back(messages: list[Any], units: Sequence[Unit]) -> list[Any]:
    """Copy-on-write: messages whose texts changed become shallow copies with new texts."""
    out = list(messages)
    for u in units:
        m = out[u.msg]
        current = m.get("content")
        if u.part is None:
            if current != u.text:
                out[u.msg] = {**m, "content": u.text}
            continue
        part = current[u.part]
        if part.get("text") == u.text:
            continue
        parts = list(current)
        parts[u.part] = {**part, "text": u.text}
        out[u.msg] = {**m, "content": parts}
    return out


def strip_markers(messages: list[Any]) -> tuple[list[Any], tuple[tuple[int, str], ...]]:
    """The messages without protect markers, and each marked span with the index of its message
    (a span protects its own message and later ones, never earlier ones: see ``pipeline``)."""
    spans: list[tuple[int, str]] = []
    units = extract_units(messages)
    for u in units:
        new, found = protect.strip_markers(u.original)
        if found or new != u.original:
            u.text = new
            spans.extend((u.msg, span) for span in found)
    changed = [u for u in units if u.text != u.original]
    if not changed:
        return messages, ()
    return write_back(messages, changed), tuple(spans)


def checked(stage: str, old: str, new: object, unit: Unit, before: tuple[int, ...]) -> str | None:
    """``new`` if it may replace ``old``: a shorter string with every protected literal intact."""
    if not isinstance(new, str) or len(new) >= len(old):
        return None
    if unit.protected and not protect.intact(unit.protected, before, new):
        return None
    return new


def texts_len(m: Any) -> int:
    content = m.get("content") if isinstance(m, Mapping) else None
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(p["text"]) for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return 0


def all_text(m: Any) -> str:
    content = m.get("content") if isinstance(m, Mapping) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return ""
