"""The standalone compress use case (``POST /v1/compress``): compress without calling a model.

Takes one request ``{"messages", "tools"?, "compression"?: {"level", "rate"}}`` or a batch
``{"requests": [...]}`` of up to :data:`MAX_BATCH`. Each item is validated like a chat body (minus
``model``) and compressed with the same fail-open step the chat path uses, so the figures match
what a chat request would have been charged on.

Compression is CPU work paid for by nobody, so the call draws on the key's chat budget: one HTTP
request (a whole batch included) counts once against requests per minute and holds one
concurrency slot while it runs. Without that, a key refused on chat could keep the cores busy
here and slow every other key's requests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opencompress.errors import InvalidRequestError
from opencompress.gateway.compress_step import CompressionOutcome, compress_and_count
from opencompress.gateway.context import AppContext
from opencompress.gateway.limits import acquire_slot, rate_limit_headers
from opencompress.observability.logs import current_request
from opencompress.observability.requests import new_request_id
from opencompress.storage.base import ApiKey
from opencompress.wire.chat_request import ChatRequest, parse_chat_body

MAX_BATCH = 50
log = logging.getLogger("opencompress.gateway")


@dataclass(frozen=True, kw_only=True)
class CompressAnswer:
    body: Any
    """JSON-ready: one compression object, or ``{"object": "list", "data": [...]}`` for a batch."""
    headers: dict[str, str]
    """``x-request-id`` and the ``X-RateLimit-*`` headers of the slot this request took."""


def _describe(outcome: CompressionOutcome) -> dict[str, Any]:
    saved = outcome.original_tokens - outcome.compressed_tokens
    return {
        "object": "compression",
        "messages": outcome.messages,
        "level": outcome.level,
        "status": outcome.status,
        "stages": list(outcome.stages_applied),
        "original_tokens": outcome.original_tokens,
        "compressed_tokens": outcome.compressed_tokens,
        "saved_tokens": saved,
        "reduction": round(saved / outcome.original_tokens, 4) if outcome.original_tokens else 0.0,
        "compression_ms": round(outcome.ms, 3),
    }


def _in_item(exc: InvalidRequestError, where: str) -> InvalidRequestError:
    """``exc`` about batch item ``where``: the chat parser names ``messages``, but in a batch of 50
    the client needs ``requests[3].messages`` to find the culprit (param and message alike)."""
    if not exc.param:
        return type(exc)(f"{where}: {exc.message}", code=exc.code, param=where)
    quoted = f"'{exc.param}"
    if quoted in exc.message:
        message = exc.message.replace(quoted, f"'{where}.{exc.param}", 1)
    else:
        message = f"{where}.{exc.param}: {exc.message}"
    return type(exc)(message, code=exc.code, param=f"{where}.{exc.param}")


def _item(raw: Any, headers: Mapping[str, str], where: str) -> ChatRequest:
    if not isinstance(raw, dict):
        raise InvalidRequestError(f"{where} must be an object with 'messages'.", param=where)
    try:
        return parse_chat_body({"model": "compress-only", **raw}, headers)
    except InvalidRequestError as exc:
        header_level = (exc.param or "").startswith("compression") and "compression" not in raw
        if where == "body" or header_level:  # a single body, or the X-OpenCompress-Level header
            raise
        raise _in_item(exc, where) from None


def _parse(body: dict[str, Any], headers: Mapping[str, str]) -> list[ChatRequest]:
    batch = body.get("requests")
    if batch is None:
        return [_item(body, headers, "body")]
    if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
        raise InvalidRequestError(
            f"'requests' must be an array of 1 to {MAX_BATCH} requests.", param="requests"
        )
    return [_item(raw, headers, f"requests[{i}]") for i, raw in enumerate(batch)]


async def _release_when_done(
    ctx: AppContext, key_id: str, request_id: str, work: asyncio.Future[Any]
) -> None:
    """A cancelled request's thread keeps compressing (threads cannot be stopped): its slot is
    given back only when the work really ends, so cancelling cannot be used to exceed the limit."""
    try:
        await asyncio.wait({work})
        if not work.cancelled() and work.exception() is not None:
            log.warning("compression of %s failed after cancellation", request_id, exc_info=work.exception())
    finally:
        await ctx.limiter.release(key_id, request_id)


async def _run_in_slot(
    ctx: AppContext, key_id: str, request_id: str, work: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run ``work`` on a thread and give the slot back on every path (success, error, cancel)."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    handed_off = False
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            handed_off = True
            ctx.background.spawn(_release_when_done(ctx, key_id, request_id, task))
        raise
    finally:
        if not handed_off:
            await ctx.limiter.release(key_id, request_id)


async def compress_only(
    ctx: AppContext, key: ApiKey, body: dict[str, Any], headers: Mapping[str, str]
) -> CompressAnswer:
    """Validate (a 400 takes no slot, as on chat), take the key's rate-limit slot, compress.

    Raises ``RateLimitError`` (429 with ``Retry-After`` and ``X-RateLimit-*``) over the limit."""
    items = _parse(body, headers)
    level = key.compression_level or ctx.settings.compression_level
    scope = current_request()
    if scope is not None:
        scope.key_id = key.id
    request_id = scope.request_id if scope is not None else new_request_id()
    decision = await acquire_slot(ctx, key, request_id)
    ctx.key_usage.note(key.id, time.time())

    def work() -> list[dict[str, Any]]:
        out = []
        for chat in items:
            chosen = chat.level or level
            outcome = compress_and_count(chat.messages, chat.body.get("tools"), chosen, chat.rate)  # type: ignore[arg-type]
            out.append(_describe(outcome))
        return out

    results = await _run_in_slot(ctx, key.id, request_id, work)
    answer = results[0] if body.get("requests") is None else {"object": "list", "data": results}
    return CompressAnswer(body=answer, headers={"x-request-id": request_id, **rate_limit_headers(decision)})
