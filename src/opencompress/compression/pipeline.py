"""Runs the stages a policy selects, fail-open: a stage that raises is skipped and reported."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opencompress.compression.base import (
    CompressionResult,
    Message,
    Policy,
    Stage,
    StageContext,
    StageStat,
)
from opencompress.compression.stages.json_minify import JsonMinify
from opencompress.compression.stages.whitespace import Whitespace


def stages_for(policy: Policy) -> Sequence[Stage]:
    if policy.level == "off":
        return ()
    return (Whitespace(), JsonMinify())


def _text_len(messages: Iterable[Message]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return total


def _query(messages: Sequence[Message]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _last_assistant(messages: Sequence[Message]) -> int:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant":
            return i
    return -1


def compress(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    policy: Policy | None = None,
) -> CompressionResult:
    policy = policy or Policy()
    current: list[Message] = [copy.deepcopy(dict(m)) for m in messages]
    ctx = StageContext(
        policy=policy,
        query=_query(current),
        frozen_until=_last_assistant(current),
        tools=tuple(tools or ()),
    )
    applied: list[str] = []
    failed: list[str] = []
    stats: list[StageStat] = []
    for stage in stages_for(policy):
        before = _text_len(current)
        try:
            result = stage.apply(current, ctx)
        except Exception:  # noqa: BLE001 - fail-open is the contract: a broken stage never fails a request
            failed.append(stage.name)
            continue
        changed = sum(1 for a, b in zip(current, result, strict=False) if a is not b and a != b)
        changed += abs(len(result) - len(current))
        after = _text_len(result)
        stats.append(StageStat(name=stage.name, messages_changed=changed, chars_before=before, chars_after=after))
        if changed:
            applied.append(stage.name)
        current = result
    return CompressionResult(
        messages=current,
        level=policy.level,
        stages_applied=tuple(applied),
        stages_failed=tuple(failed),
        stats=tuple(stats),
    )
