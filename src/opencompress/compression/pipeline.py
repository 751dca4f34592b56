"""``compress()``: run the stages a policy selects, fail-open, deterministic and prefix-stable.

How a request flows (see ``policy`` for the three kinds of stage):

1. Protect markers are stripped from every text; their inner spans join ``Policy.protect`` for
   their own message and the messages after it (never earlier ones: prefix stability).
2. Every text (string ``content`` or ``text`` part) gets the **text** stages, cached per text.
3. Texts up to the last assistant message (the *frozen prefix*) get the **history** stages in
   order. The state after the frozen prefix is cached under a hash of the prefix, so the next turn
   of the same conversation resumes there instead of redoing the whole history.
4. The **turn** stages (question-aware) run on the current turn only.
5. The current turn's texts get the history stages, continuing from the prefix state.

Every stage result is checked per text before it is kept: it must be shorter, and every protected
literal must still occur as often as before. A stage that raises is skipped for that text and named
in ``stages_failed``. The last user message is never altered (it is the question) while it is in
the current turn. Once an assistant message follows it (a tool loop: agent traces end in tool
results after the task statement), it is history like any earlier message: keeping it verbatim
then would change its bytes on the next user turn, breaking the cached prefix from that message
on, after the whole tool loop had been cached.

Prefix stability follows from the structure: text stages are pure per text, history stages only
look backwards, turn stages only see the current turn (enforced here, not trusted).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

from opencompress.compression import protect
from opencompress.compression.base import (
    CompressionResult,
    Message,
    Policy,
    StageContext,
    StageStat,
)
from opencompress.compression.cache import digest
from opencompress.compression.phases import (
    PREFIX_CACHE,
    TEXT_CACHE,
    phase_text,
    phase_turn,
    resume,
)
from opencompress.compression.policy import HISTORY_ORDER, TEXT_ORDER, TURN_ORDER, config_for
from opencompress.compression.units import (
    Unit,
    all_text,
    extract_units,
    strip_markers,
    texts_len,
    write_back,
)

__all__ = ["PREFIX_CACHE", "TEXT_CACHE", "clear_caches", "compress"]

log = logging.getLogger("opencompress.compression")


def clear_caches() -> None:
    TEXT_CACHE.clear()
    PREFIX_CACHE.clear()


def _last(messages: Sequence[Any], role: str) -> int:
    for i in range(len(messages) - 1, -1, -1):
        m = messages[i]
        if isinstance(m, Mapping) and m.get("role") == role:
            return i
    return -1


def _protecting(policy: Policy, spans: Sequence[tuple[int, str]], msg: int) -> tuple[str, ...]:
    """The literals that protect message ``msg``: ``Policy.protect`` and the spans marked in it or
    in an earlier message. A span marked in a later message (a new question quoting old output)
    must not change how an earlier message compresses, or the cached prefix would break."""
    found = (span for at, span in spans if at <= msg)
    return tuple(dict.fromkeys(lit for lit in (*policy.protect, *found) if isinstance(lit, str) and lit))


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
    msgs, spans = strip_markers(list(messages))
    chars_before = sum(texts_len(m) for m in messages)
    cfg = config_for(policy)
    if cfg.level == "off":
        return CompressionResult(
            messages=cast(list[Message], msgs),
            level=policy.level,
            chars_before=chars_before,
            chars_after=sum(texts_len(m) for m in msgs),
        )
    marked = tuple(span for _, span in spans)
    literals = tuple(dict.fromkeys(lit for lit in (*policy.protect, *marked) if isinstance(lit, str) and lit))
    frozen_until = _last(msgs, "assistant")
    last_user = _last(msgs, "user")
    # The question is the last user message of the current turn: never altered. In a tool loop
    # (the last user message comes before the last assistant message) it is already history, and
    # is compressed as the next turn will compress it: that is what keeps the prefix stable.
    question = last_user if last_user > frozen_until else -1
    ctx = StageContext(
        policy=policy,
        query=all_text(msgs[last_user]) if last_user >= 0 else "",
        frozen_until=frozen_until,
        tools=tuple(t for t in tools if isinstance(t, Mapping)),
    )

    units = extract_units(msgs)
    for u in units:
        u.protected = protect.relevant(_protecting(policy, spans, u.msg), u.text)
        mark = "question" if u.msg == question else ""  # the same text compresses differently as the question
        u.key = digest(cfg.key, u.role, u.call_id or "", mark, "\x01".join(u.protected), u.text)
    n_frozen = sum(1 for u in units if u.msg <= frozen_until)
    history = resume(cfg, units, n_frozen, tools, question)
    current = units[n_frozen:]
    for u in current:
        phase_text(cfg, u, question=u.msg == question)
    msgs = write_back(msgs, units)

    turn_stats: list[StageStat] = []
    turn_failed: list[str] = []
    if cfg.turn:
        msgs, turn_stats, turn_failed = phase_turn(cfg, msgs, ctx, question, literals)
        redone = extract_units(msgs, frozen_until + 1)
        if [(u.msg, u.part) for u in redone] == [(u.msg, u.part) for u in current]:
            for new_u, old_u in zip(redone, current, strict=True):
                old_u.text = new_u.text
    for u in current:
        u.protected = protect.relevant(_protecting(policy, spans, u.msg), u.text)
        history.step(u, question=u.msg == question)
    msgs = write_back(msgs, current)

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
        chars_after=sum(texts_len(m) for m in msgs),
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
