"""The three phases of :func:`opencompress.compression.pipeline.compress` (see its docstring).

* text: per-text stages, cached per text (:data:`TEXT_CACHE`);
* history: backwards-looking stages in conversation order; the state at the end of the frozen
  prefix is cached under a hash of that prefix (:data:`PREFIX_CACHE`), so the next turn resumes;
* turn: question-aware stages on the current turn only, with the prefix rule enforced here
  (a stage's change to an earlier message is discarded, not trusted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opencompress.compression import protect
from opencompress.compression.base import StageContext, StageStat, TextInfo
from opencompress.compression.cache import LRUCache, chain, digest
from opencompress.compression.classify import classify
from opencompress.compression.policy import (
    ALIASES,
    DEDUP,
    HISTORY_ROLES,
    LevelConfig,
    allows,
    text_stages,
    turn_stages,
)
from opencompress.compression.stages.aliases import SIGIL, AliasState
from opencompress.compression.stages.dedup import DedupState, describe
from opencompress.compression.units import (
    Change,
    TextResult,
    Unit,
    all_text,
    checked,
    role_of,
    texts_len,
)

log = logging.getLogger("opencompress.compression")


@dataclass(frozen=True)
class Snapshot:
    """Everything the history stages produced up to the end of a frozen prefix."""

    results: tuple[TextResult, ...]
    dedup: DedupState
    aliases: AliasState


TEXT_CACHE: LRUCache[TextResult] = LRUCache(max_entries=4096)
PREFIX_CACHE: LRUCache[Snapshot] = LRUCache(max_entries=256, max_weight=64 * 1024 * 1024)


# ---------------------------------------------------------------------------------------------
# phase 1: per-text stages


def run_text_stages(cfg: LevelConfig, unit: Unit) -> TextResult:
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
        kept = checked(stage.name, text, new, unit, before)
        if kept is not None:
            changes.append((stage.name, len(text), len(kept)))
            text = kept
            if stage.name.startswith("json") and kind != "json":
                kind = classify(text)
                info = TextInfo(role=unit.role, kind=kind, small=info.small)
    return TextResult(text, tuple(changes), tuple(failed), kind)


def phase_text(cfg: LevelConfig, unit: Unit, question: bool) -> None:
    unit.key = digest(cfg.key, unit.role, unit.call_id or "", "\x01".join(unit.protected), unit.text)
    if question:  # the current question is never altered
        return
    result = TEXT_CACHE.get(unit.key)
    if result is None:
        result = run_text_stages(cfg, unit)
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
        kept = checked(name, unit.text, new, unit, before)
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
        kept = checked("aliases", unit.text, rewrite.text, unit, before)
        if kept is not None:
            ALIASES.commit(self.aliases, rewrite)
            unit.changes.append(("aliases", len(unit.text), len(kept)))
            unit.text = kept


def fresh_history(cfg: LevelConfig, tools: Sequence[Any]) -> History:
    aliases = ALIASES.new_state()
    if any(SIGIL in repr(t) for t in tools):  # an alias could not be told from the schema's own text
        aliases.disabled = True
    return History(cfg, DEDUP.new_state(), aliases)


def resume(
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
        history = fresh_history(cfg, tools)
    else:
        history = History(cfg, snap.dedup.copy(), snap.aliases.copy())
        for u, r in zip(units[:start], snap.results, strict=True):
            u.text, u.changes, u.failed = r.text, list(r.changes), list(r.failed)
    for u in units[start:n_frozen]:
        phase_text(cfg, u, question=u.msg == question)
        history.step(u, question=u.msg == question)
    if start < n_frozen:
        results = tuple(TextResult(u.text, tuple(u.changes), tuple(u.failed)) for u in units[:n_frozen])
        weight = sum(len(r.text) for r in results) * 3 + 1
        snapshot = Snapshot(results, history.dedup.copy(), history.aliases.copy())
        PREFIX_CACHE.put(hashes[n_frozen - 1], snapshot, weight)
    return history


# ---------------------------------------------------------------------------------------------
# phase 3: question-aware stages on the current turn, with the prefix rule enforced


def phase_turn(
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
            if new is old or not isinstance(new, dict) or new == old:
                continue
            if i == question and not getattr(stage, "edits_question", False):
                continue
            if role_of(new) != role_of(old) or new.get("tool_calls") != old.get("tool_calls"):
                continue
            old_text, new_text = all_text(old), all_text(new)
            lits = protect.relevant(literals, old_text)
            if texts_len(new) >= texts_len(old) or not protect.intact(
                lits, protect.counts(lits, old_text), new_text
            ):
                continue
            merged[i] = new
            changed += 1
            before_chars += texts_len(old)
            after_chars += texts_len(new)
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
