"""The compression interface: policy in, messages and statistics out.

A *stage* is a small pure object with a ``name`` and ``apply(messages, ctx) -> messages``. It may
return the same list when it has nothing to do. Stages never see the clock, randomness or I/O, so
``compress`` is a pure function of ``(messages, tools, policy)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Level = Literal["off", "lossless", "balanced", "aggressive"]
LEVELS: tuple[Level, ...] = ("off", "lossless", "balanced", "aggressive")
Message = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Policy:
    """What the caller asks for. ``rate`` is the target share of selectable content to keep."""

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


@dataclass(frozen=True, kw_only=True)
class CompressionResult:
    messages: list[Message]
    level: Level
    stages_applied: tuple[str, ...] = ()
    stages_failed: tuple[str, ...] = ()
    stats: tuple[StageStat, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    """alias → original text, for :class:`opencompress.compression.restore.AliasRestorer`."""
