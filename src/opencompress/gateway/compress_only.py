"""The standalone compress use case (``POST /v1/compress``): compress without calling a model.

Takes one request ``{"messages", "tools"?, "compression"?: {"level", "rate"}}`` or a batch
``{"requests": [...]}`` of up to :data:`MAX_BATCH`. Each item is validated like a chat body (minus
``model``) and compressed with the same fail-open step the chat path uses, so the figures match
what a chat request would have been charged on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from opencompress.errors import InvalidRequestError
from opencompress.gateway.compress_step import CompressionOutcome, compress_and_count
from opencompress.gateway.context import AppContext
from opencompress.wire.chat_request import ChatRequest, parse_chat_body

MAX_BATCH = 50


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


def _item(raw: Any, headers: Mapping[str, str], where: str) -> ChatRequest:
    if not isinstance(raw, dict):
        raise InvalidRequestError(f"{where} must be an object with 'messages'.", param=where)
    return parse_chat_body({"model": "compress-only", **raw}, headers)


async def compress_only(
    ctx: AppContext, body: dict[str, Any], headers: Mapping[str, str], *, level: str
) -> Any:
    """Returns the JSON-ready result: one compression object, or a list object for batches."""
    batch = body.get("requests")
    if batch is None:
        items = [_item(body, headers, "body")]
    elif not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
        raise InvalidRequestError(
            f"'requests' must be an array of 1 to {MAX_BATCH} requests.", param="requests"
        )
    else:
        items = [_item(raw, headers, f"requests[{i}]") for i, raw in enumerate(batch)]

    def work() -> list[dict[str, Any]]:
        out = []
        for chat in items:
            chosen = chat.level or level
            outcome = compress_and_count(chat.messages, chat.body.get("tools"), chosen, chat.rate)  # type: ignore[arg-type]
            out.append(_describe(outcome))
        return out

    results = await asyncio.to_thread(work)
    if batch is None:
        return results[0]
    return {"object": "list", "data": results}
