"""The compression interface: policy in, messages and statistics out.

A *stage* is a small pure object with a ``name`` and ``apply(messages, ctx) -> messages``. It may
return the same list when it has nothing to do. Stages never see the clock, randomness or I/O, so
``compress`` is a pure function of ``(messages, tools, policy)``.

Most of our own stages work on one text at a time (a string ``content`` or one ``text`` part); they
also implement :class:`TextStage` so the pipeline can cache their result per text and check each
change (shorter, protected spans intact) before keeping it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from opencompress.compression.classify import Kind, classify

Level = Literal["off", "lossless", "balanced", "aggressive"]
LEVELS: tuple[Level, ...] = ("off", "lossless", "balanced", "aggressive")
Message = dict[str, Any]

FORMAT_VERSION = "occ-1"
"""Version of the compressed form (alias sigil, legend and back-reference wording). From the first
release on, bump it whenever the bytes produced for the same input change, so caches keyed on it are
never mixed. Before it (version 0.x, nothing published) the form still changes under ``occ-1``."""


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What the caller asks for. ``rate`` is the target share of selectable content to keep;
    ``protect`` lists literal strings that no stage may alter."""

    level: Level = "balanced"
    rate: float | None = None
    protect: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class StageContext:
    """Read-only facts a stage may use. ``frozen_until`` is the index of the last assistant message:
    messages before it belong to earlier turns and may only get per-message, query-independent
    treatment (prefix stability). ``query`` is the last user message's text, or ``""``."""

    policy: Policy
    query: str
    frozen_until: int
    tools: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class StageStat:
    name: str
    messages_changed: int
    chars_before: int
    chars_after: int


class Stage(Protocol):
    name: str

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class TextInfo:
    """What a per-text stage may know about the text it transforms: its role and content class,
    and whether it is below the size threshold (then only re-encoding stages run on it)."""

    role: str
    kind: Kind
    small: bool = False


class TextStage(Protocol):
    """A stage that is a pure function of one text (plus its :class:`TextInfo`)."""

    name: str

    def transform(self, text: str, info: TextInfo) -> str: ...


def map_texts(messages: list[Message], fn: Callable[[str, str], str]) -> list[Message]:
    """Apply ``fn(text, role)`` to every string content and ``text`` part; unchanged messages are
    returned as the same objects, changed ones as shallow copies (the input is never mutated)."""
    out: list[Message] = []
    for m in messages:
        if not isinstance(m, dict):
            out.append(m)
            continue
        raw_role = m.get("role")
        role = raw_role if isinstance(raw_role, str) else ""
        content = m.get("content")
        if isinstance(content, str):
            new = fn(content, role)
            out.append(m if new == content else {**m, "content": new})
        elif isinstance(content, list):
            parts: list[Any] = []
            changed = False
            for part in content:
                text = part.get("text") if isinstance(part, dict) and part.get("type") == "text" else None
                if isinstance(text, str):
                    new = fn(text, role)
                    if new != text:
                        part = {**part, "text": new}
                        changed = True
                parts.append(part)
            out.append({**m, "content": parts} if changed else m)
        else:
            out.append(m)
    return out


def apply_text_stage(stage: TextStage, messages: list[Message], *, small_chars: int = 0) -> list[Message]:
    """Run a :class:`TextStage` over every text of ``messages`` (the ``Stage.apply`` of such stages,
    used standalone and in tests; the pipeline calls ``transform`` itself to cache and check)."""

    def fn(text: str, role: str) -> str:
        new = stage.transform(text, TextInfo(role=role, kind=classify(text), small=len(text) < small_chars))
        return new if len(new) < len(text) else text

    return map_texts(messages, fn)


@dataclass(frozen=True, kw_only=True)
class CompressionResult:
    messages: list[Message]
    level: Level
    stages_applied: tuple[str, ...] = ()
    stages_failed: tuple[str, ...] = ()
    stats: tuple[StageStat, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    """alias → original text, for :class:`opencompress.compression.restore.AliasRestorer`."""
    chars_before: int = 0
    chars_after: int = 0
    format_version: str = FORMAT_VERSION
