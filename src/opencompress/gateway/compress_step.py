"""Compression as one step of the request: count, compress, count again — fail-open.

Compression must never fail a request: any exception forwards the original messages with
``status="failed"`` (sent as ``x-opencompress-compression: failed``). Large prompts are compressed
on a worker thread so the event loop keeps serving other requests; small ones inline, where the
thread hop would cost more than the work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opencompress.compression import Level, Policy, compress
from opencompress.compression.protect import MARK_CLOSE, MARK_OPEN
from opencompress.compression.units import strip_markers
from opencompress.tokens import count_messages
from opencompress.wire.chat_request import ChatRequest

log = logging.getLogger("opencompress.compression")

INLINE_LIMIT_CHARS = 16_000
"""Below this much message text (≈4k tokens, well under a millisecond of work) stay on the loop."""


@dataclass(frozen=True, kw_only=True)
class CompressionOutcome:
    messages: list[dict[str, Any]]
    level: str
    status: str
    """``ok`` (ran), ``off`` (level off) or ``failed`` (forwarded uncompressed)."""
    original_tokens: int
    compressed_tokens: int
    stages_applied: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    ms: float = 0.0


def _message_chars(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, dict))
    return total


def _has_protect_markers(messages: list[dict[str, Any]]) -> bool:
    """Level ``off`` still removes ``<occ:protect>`` markers: they are ours, not the model's."""
    for m in messages:
        content = m.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
        if any(MARK_OPEN in t or MARK_CLOSE in t for t in texts):
            return True
    return False


def _original_as_sent(messages: list[dict[str, Any]], tokens: int) -> tuple[list[dict[str, Any]], int]:
    """The original to forward instead of a compressed form, and its token count: ``messages``
    themselves (counted as ``tokens``) unless markers had to be removed."""
    unmarked = _unmarked(messages)
    return (messages, tokens) if unmarked is messages else (unmarked, count_messages(unmarked))


def _unmarked(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` without ``<occ:protect>`` markers, the way the pipeline strips them. Whenever the
    original is forwarded instead of the compressed form (compression failed, or it came out
    larger), the markers still have to go: the upstream model must never see them."""
    if not _has_protect_markers(messages):
        return messages
    try:
        stripped, _ = strip_markers(list(messages))
    except Exception:  # noqa: BLE001 - a malformed message: forward it as the client sent it
        log.warning("could not strip protect markers", exc_info=True)
        return messages
    return list(stripped)


def compress_and_count(
    messages: list[dict[str, Any]], tools: Any, level: Level, rate: float | None
) -> CompressionOutcome:
    started = time.perf_counter()
    original_tokens = count_messages(messages)

    def outcome(status: str, sent: list[dict[str, Any]], tokens: int, **extra: Any) -> CompressionOutcome:
        ms = (time.perf_counter() - started) * 1000
        return CompressionOutcome(
            messages=sent,
            level=level,
            status=status,
            original_tokens=original_tokens,
            compressed_tokens=tokens,
            ms=ms,
            **extra,
        )

    if level == "off" and not _has_protect_markers(messages):
        return outcome("off", messages, original_tokens)
    try:
        policy = Policy(level=level, rate=rate)
        result = compress(messages, tools=tools if isinstance(tools, list) else None, policy=policy)
        compressed_tokens = count_messages(result.messages)
    except Exception:  # noqa: BLE001 - fail-open: forward the original prompt, flag it in a header
        log.warning("compression failed; forwarding uncompressed", exc_info=True)
        return outcome("failed", *_original_as_sent(messages, original_tokens))
    status = "off" if level == "off" else "ok"
    if "pipeline" in result.stages_failed:  # compress() is fail-open itself: it never raises
        status = "failed"
    if compressed_tokens > original_tokens:  # never pay more than the original would cost
        plain, plain_tokens = _original_as_sent(messages, original_tokens)
        if compressed_tokens > plain_tokens:
            return outcome(status, plain, plain_tokens)
    sent = result.messages
    if result.stages_failed and _has_protect_markers(sent):  # the pipeline passed them through
        sent = _unmarked(sent)
        compressed_tokens = count_messages(sent)
    return outcome(
        status,
        sent,
        compressed_tokens,
        stages_applied=tuple(result.stages_applied),
        aliases=dict(result.aliases),
    )


async def run_compression(chat: ChatRequest, *, level: str) -> CompressionOutcome:
    checked: Level = level if level in ("off", "lossless", "balanced", "aggressive") else "balanced"  # type: ignore[assignment]
    args = (chat.messages, chat.body.get("tools"), checked, chat.rate)
    if _message_chars(chat.messages) <= INLINE_LIMIT_CHARS:
        return compress_and_count(*args)
    return await asyncio.to_thread(compress_and_count, *args)
