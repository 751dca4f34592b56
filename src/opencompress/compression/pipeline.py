"""``compress()``: run the stages a policy selects, fail-open, deterministic and prefix-stable.

How a request flows (see ``policy`` for the three kinds of stage):

1. Protect markers are stripped from every text; their inner spans join ``Policy.protect``.
2. Every text (string ``content`` or ``text`` part) gets the **text** stages, cached per text.
3. Texts up to the last assistant message (the *frozen prefix*) get the **history** stages in
   order. The state after the frozen prefix is cached under a hash of the prefix, so the next turn
   of the same conversation resumes there instead of redoing the whole history.
4. The **turn** stages (question-aware) run on the current turn only.
5. The current turn's texts get the history stages, continuing from the prefix state.

Every stage result is checked per text before it is kept: it must be shorter, and every protected
literal must still occur as often as before. A stage that raises is skipped for that text and named
in ``stages_failed``. The last user message is never altered (it is the question), whether or
not an assistant message follows it (agent traces end in tool results after the task statement).

Prefix stability follows from the structure: text stages are pure per text, history stages only
look backwards, turn stages only see the current turn (enforced here, not trusted).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from opencompress.compression import protect
from opencompress.compression.base import (
    CompressionResult,
    Message,
    Policy,
    StageContext,
    StageStat,
    TextInfo,
)
from opencompress.compression.cache import LRUCache, chain, digest
from opencompress.compression.classify import Kind, classify
from opencompress.compression.policy import (
    ALIASES,
    DEDUP,
    HISTORY_ORDER,
    HISTORY_ROLES,
    TEXT_ORDER,
    TURN_ORDER,
    LevelConfig,
    allows,
    config_for,
    text_stages,
    turn_stages,
)
from opencompress.compression.stages.aliases import SIGIL, AliasState
from opencompress.compression.stages.dedup import DedupState, describe

log = logging.getLogger("opencompress.compression")

Change = tuple[str, int, int]
"""(stage name, chars before, chars after) of one kept change to one text."""


@dataclass(frozen=True, slots=True)
class TextResult:
    text: str
    changes: tuple[Change, ...] = ()
    failed: tuple[str, ...] = ()
    kind: Kind | None = None
    """Content class of ``text`` as the text stages last saw it (saves classifying it again)."""


@dataclass(frozen=True)
class Snapshot:
    """Everything the history stages produced up to the end of a frozen prefix."""

    results: tuple[TextResult, ...]
    dedup: DedupState
    aliases: AliasState


TEXT_CACHE: LRUCache[TextResult] = LRUCache(max_entries=4096)
PREFIX_CACHE: LRUCache[Snapshot] = LRUCache(max_entries=256, max_weight=64 * 1024 * 1024)


def clear_caches() -> None:
    TEXT_CACHE.clear()
    PREFIX_CACHE.clear()


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


def _role(m: Mapping[str, Any]) -> str:
    role = m.get("role")
    return role if isinstance(role, str) else ""


def _units(messages: Sequence[Any], start: int = 0) -> list[Unit]:
    units: list[Unit] = []
    for i in range(start, len(messages)):
        m = messages[i]
        if not isinstance(m, Mapping):
            continue
        role = _role(m)
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


def _write(messages: list[Any], units: Sequence[Unit]) -> list[Any]:
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


def _strip_markers(messages: list[Any]) -> tuple[list[Any], tuple[str, ...]]:
    spans: list[str] = []
    units = _units(messages)
    for u in units:
        new, found = protect.strip_markers(u.original)
        if found or new != u.original:
            u.text = new
            spans.extend(found)
    changed = [u for u in units if u.text != u.original]
    if not changed:
        return messages, ()
    return _write(messages, changed), tuple(spans)


# ---------------------------------------------------------------------------------------------
# phase 1: per-text stages


def _checked(stage: str, old: str, new: object, unit: Unit, before: tuple[int, ...]) -> str | None:
    """``new`` if it may replace ``old``: a shorter string with every protected literal intact."""
    if not isinstance(new, str) or len(new) >= len(old):
        return None
    if unit.protected and not protect.intact(unit.protected, before, new):
        return None
    return new


def _run_text_stages(cfg: LevelConfig, unit: Unit) -> TextResult:
    text = unit.text
    kind = classify(text)
    info = TextInfo(role=unit.role, kind=kind, small=len(text) < cfg.small_chars)
    before = protect.counts(unit.protected, text)
    changes: list[Change] = []
    failed: list[str] = []
    for stage in text_stages(cfg.level):
        if not allows(stage.name, kind=kind, role=unit.role, small=info.small):
            continue
        try:
            new = stage.transform(text, info)
        except Exception:  # noqa: BLE001 - fail-open: a broken stage never fails a request
            log.warning("compression stage %s failed", stage.name, exc_info=True)
            failed.append(stage.name)
            continue
        kept = _checked(stage.name, text, new, unit, before)
        if kept is not None:
            changes.append((stage.name, len(text), len(kept)))
            text = kept
            if stage.name.startswith("json") and kind != "json":
                kind = classify(text)
                info = TextInfo(role=unit.role, kind=kind, small=info.small)
    return TextResult(text, tuple(changes), tuple(failed), kind)


def _phase_text(cfg: LevelConfig, unit: Unit, question: bool) -> None:
    unit.key = digest(cfg.key, unit.role, unit.call_id or "", "\x01".join(unit.protected), unit.text)
    if question:  # the current question is never altered
        return
    result = TEXT_CACHE.get(unit.key)
    if result is None:
        result = _run_text_stages(cfg, unit)
        TEXT_CACHE.put(unit.key, result, weight=len(unit.text) + len(result.text))
    unit.text = result.text
    unit.kind = result.kind
    unit.kind_of = result.text
    unit.changes.extend(result.changes)
    unit.failed.extend(result.failed)


# ---------------------------------------------------------------------------------------------
# phase 2 and 4: history stages (in conversation order, backwards-looking only)


@dataclass(slots=True)
class History:
    cfg: LevelConfig
    dedup: DedupState
    aliases: AliasState

    def step(self, unit: Unit, question: bool) -> None:
        """Fold/alias one text against everything before it, then record it for later texts."""
        cfg = self.cfg
        seen = unit.text
        label = describe(unit.role, seen, unit.call_id)
        found = ALIASES.observe(self.aliases, seen) if "aliases" in cfg.history else None
        if not question and unit.role in HISTORY_ROLES:
            kind = unit.kind if unit.kind is not None and unit.kind_of is seen else classify(seen)
            before = protect.counts(unit.protected, seen)
            if "dedup" in cfg.history and allows("dedup", kind=kind, role=unit.role, small=False):
                self._try(unit, "dedup", lambda t: DEDUP.fold_whole(self.dedup, t), before)
            if unit.text == seen and "dedup_blocks" in cfg.history:
                if allows("dedup_blocks", kind=kind, role=unit.role, small=False):
                    self._try(unit, "dedup_blocks", lambda t: DEDUP.fold_blocks(self.dedup, t), before)
            if found is not None and allows("aliases", kind=kind, role=unit.role, small=False):
                self._alias(unit, found if unit.text == seen else ALIASES.candidates(unit.text), before)
        if found is not None:
            ALIASES.note_verbatim(self.aliases, unit.text)
        if "dedup" in cfg.history or "dedup_blocks" in cfg.history:
            DEDUP.index(self.dedup, seen, label)

    def _try(self, unit: Unit, name: str, fn: Any, before: tuple[int, ...]) -> None:
        try:
            new = fn(unit.text)
        except Exception:  # noqa: BLE001 - fail-open
            log.warning("compression stage %s failed", name, exc_info=True)
            unit.failed.append(name)
            return
        kept = _checked(name, unit.text, new, unit, before)
        if kept is not None:
            unit.changes.append((name, len(unit.text), len(kept)))
            unit.text = kept

    def _alias(self, unit: Unit, found: Any, before: tuple[int, ...]) -> None:
        try:
            rewrite = ALIASES.rewrite(self.aliases, unit.text, found)
        except Exception:  # noqa: BLE001 - fail-open
            log.warning("compression stage aliases failed", exc_info=True)
            unit.failed.append("aliases")
            return
        kept = _checked("aliases", unit.text, rewrite.text, unit, before)
        if kept is not None:
            ALIASES.commit(self.aliases, rewrite)
            unit.changes.append(("aliases", len(unit.text), len(kept)))
            unit.text = kept


def _fresh_history(cfg: LevelConfig, tools: Sequence[Any]) -> History:
    aliases = ALIASES.new_state()
    if any(SIGIL in repr(t) for t in tools):  # an alias could not be told from the schema's own text
        aliases.disabled = True
    return History(cfg, DEDUP.new_state(), aliases)


def _resume(
    cfg: LevelConfig, units: list[Unit], n_frozen: int, tools: Sequence[Any], question: int
) -> History:
    """Text and history stages over the first ``n_frozen`` units (the frozen prefix), resuming from
    the longest prefix a previous call cached, and caching the state at the end of this one."""
    seed = digest(cfg.key, "tools", repr(list(tools)) if tools else "")
    hashes: list[bytes] = []
    h = seed
    for u in units[:n_frozen]:
        h = chain(h, u.key)
        hashes.append(h)
    start = 0
    snap: Snapshot | None = None
    for m in range(n_frozen, 0, -1):
        snap = PREFIX_CACHE.get(hashes[m - 1])
        if snap is not None:
            start = m
            break
    if snap is None:
        history = _fresh_history(cfg, tools)
    else:
        history = History(cfg, snap.dedup.copy(), snap.aliases.copy())
        for u, r in zip(units[:start], snap.results, strict=True):
            u.text, u.changes, u.failed = r.text, list(r.changes), list(r.failed)
    for u in units[start:n_frozen]:
        _phase_text(cfg, u, question=u.msg == question)
        history.step(u, question=u.msg == question)
    if start < n_frozen:
        results = tuple(TextResult(u.text, tuple(u.changes), tuple(u.failed)) for u in units[:n_frozen])
        weight = sum(len(r.text) for r in results) * 3 + 1
        snapshot = Snapshot(results, history.dedup.copy(), history.aliases.copy())
        PREFIX_CACHE.put(hashes[n_frozen - 1], snapshot, weight)
    return history


# ---------------------------------------------------------------------------------------------
# phase 3: question-aware stages on the current turn, with the prefix rule enforced


def _texts_len(m: Any) -> int:
    content = m.get("content") if isinstance(m, Mapping) else None
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(p["text"]) for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return 0


def _all_text(m: Any) -> str:
    content = m.get("content") if isinstance(m, Mapping) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return ""


def _phase_turn(
    cfg: LevelConfig, messages: list[Any], ctx: StageContext, question: int, literals: tuple[str, ...]
) -> tuple[list[Any], list[StageStat], list[str]]:
    stats: list[StageStat] = []
    failed: list[str] = []
    first = ctx.frozen_until + 1
    for stage in turn_stages(cfg.level):
        try:
            result = stage.apply(list(messages), ctx)
        except Exception:  # noqa: BLE001 - fail-open
            log.warning("compression stage %s failed", stage.name, exc_info=True)
            failed.append(stage.name)
            continue
        if not isinstance(result, list) or len(result) != len(messages):
            failed.append(stage.name)
            continue
        changed, before_chars, after_chars = 0, 0, 0
        merged = list(messages)
        for i in range(first, len(messages)):
            old, new = messages[i], result[i]
            if new is old or i == question or not isinstance(new, dict) or new == old:
                continue
            if _role(new) != _role(old) or new.get("tool_calls") != old.get("tool_calls"):
                continue
            old_text, new_text = _all_text(old), _all_text(new)
            lits = protect.relevant(literals, old_text)
            if _texts_len(new) >= _texts_len(old) or not protect.intact(
                lits, protect.counts(lits, old_text), new_text
            ):
                continue
            merged[i] = new
            changed += 1
            before_chars += _texts_len(old)
            after_chars += _texts_len(new)
        if changed:
            stats.append(
                StageStat(
                    name=stage.name,
                    messages_changed=changed,
                    chars_before=before_chars,
                    chars_after=after_chars,
                )
            )
        messages = merged
    return messages, stats, failed


# ---------------------------------------------------------------------------------------------
# the entry point


def _last(messages: Sequence[Any], role: str) -> int:
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, Mapping) and m.get("role") == role:
            return i
    return -1


def _stats(units: Sequence[Unit], turn: Sequence[StageStat]) -> tuple[list[StageStat], list[str], list[str]]:
    per: dict[str, list[int]] = {}
    failed: dict[str, None] = {}
    for u in units:
        for name, before, after in u.changes:
            acc = per.setdefault(name, [0, 0, 0])
            acc[0] += 1
            acc[1] += before
            acc[2] += after
        for name in u.failed:
            failed[name] = None
    order = [*TEXT_ORDER, *HISTORY_ORDER, *TURN_ORDER]
    stats = [
        StageStat(name=n, messages_changed=v[0], chars_before=v[1], chars_after=v[2]) for n, v in per.items()
    ]
    stats.extend(turn)
    stats.sort(key=lambda s: order.index(s.name) if s.name in order else len(order))
    applied = [s.name for s in stats if s.messages_changed]
    return stats, applied, list(failed)


def _compress(messages: Sequence[Any], tools: Sequence[Any], policy: Policy) -> CompressionResult:
    msgs, spans = _strip_markers(list(messages))
    chars_before = sum(_texts_len(m) for m in messages)
    cfg = config_for(policy)
    if cfg.level == "off":
        return CompressionResult(
            messages=cast(list[Message], msgs),
            level=policy.level,
            chars_before=chars_before,
            chars_after=sum(_texts_len(m) for m in msgs),
        )
    literals = tuple(dict.fromkeys(lit for lit in (*policy.protect, *spans) if isinstance(lit, str) and lit))
    frozen_until = _last(msgs, "assistant")
    last_user = _last(msgs, "user")
    question = last_user  # the last user message is never altered, in the current turn or not
    ctx = StageContext(
        policy=policy,
        query=_all_text(msgs[last_user]) if last_user >= 0 else "",
        frozen_until=frozen_until,
        tools=tuple(t for t in tools if isinstance(t, Mapping)),
    )

    units = _units(msgs)
    for u in units:
        u.protected = protect.relevant(literals, u.text)
        mark = "question" if u.msg == question else ""  # the same text compresses differently as the question
        u.key = digest(cfg.key, u.role, u.call_id or "", mark, "\x01".join(u.protected), u.text)
    n_frozen = sum(1 for u in units if u.msg <= frozen_until)
    history = _resume(cfg, units, n_frozen, tools, question)
    current = units[n_frozen:]
    for u in current:
        _phase_text(cfg, u, question=u.msg == question)
    msgs = _write(msgs, units)

    turn_stats: list[StageStat] = []
    turn_failed: list[str] = []
    if cfg.turn:
        msgs, turn_stats, turn_failed = _phase_turn(cfg, msgs, ctx, question, literals)
        redone = _units(msgs, frozen_until + 1)
        if [(u.msg, u.part) for u in redone] == [(u.msg, u.part) for u in current]:
            for new_u, old_u in zip(redone, current, strict=True):
                old_u.text = new_u.text
    for u in current:
        u.protected = protect.relevant(literals, u.text)
        history.step(u, question=u.msg == question)
    msgs = _write(msgs, current)

    stats, applied, failed = _stats(units, turn_stats)
    failed.extend(f for f in turn_failed if f not in failed)
    return CompressionResult(
        messages=cast(list[Message], msgs),
        level=policy.level,
        stages_applied=tuple(applied),
        stages_failed=tuple(failed),
        stats=tuple(stats),
        aliases=history.aliases.mapping() if "aliases" in cfg.history else {},
        chars_before=chars_before,
        chars_after=sum(_texts_len(m) for m in msgs),
    )


def compress(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    policy: Policy | None = None,
) -> CompressionResult:
    """Compress an OpenAI ``messages`` list. Never raises and never mutates its arguments: on an
    internal error the messages come back as they were, with ``stages_failed=("pipeline",)``."""
    policy = policy if isinstance(policy, Policy) else Policy()
    try:
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            raise TypeError("messages must be a list")
        tool_list: Sequence[Any] = tools if isinstance(tools, Sequence) and not isinstance(tools, str) else ()
        return _compress(messages, tool_list, policy)
    except Exception:  # noqa: BLE001 - fail-open is the contract
        log.warning("compression pipeline failed; passing messages through", exc_info=True)
        passthrough = (
            list(messages) if isinstance(messages, Sequence) and not isinstance(messages, str) else []
        )
        return CompressionResult(
            messages=cast(list[Message], passthrough), level=policy.level, stages_failed=("pipeline",)
        )
