"""The chat-completions use case: auth → validate → rate limit → compress → hold → forward →
relay → settle. HTTP-free: the route hands in bytes and headers and gets back either a finished
JSON body or a :class:`ChatStream` to relay, each with the response headers to send.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opencompress.billing.estimate import estimate_hold_micros, output_budget
from opencompress.billing.prices import ModelPrice
from opencompress.compression.base import FORMAT_VERSION
from opencompress.errors import BillingError, OpenCompressError, UpstreamError, UpstreamStatusError
from opencompress.gateway.compress_step import CompressionOutcome, run_compression
from opencompress.gateway.context import AppContext
from opencompress.gateway.limits import acquire_slot, rate_limit_headers
from opencompress.gateway.restore import ResponseRestorer
from opencompress.gateway.settle import settle_request
from opencompress.gateway.stream import (
    ChatStreamRelay,
    StreamTally,
    collect_text,
    error_event,
    is_openai_usage,
)
from opencompress.gateway.upstream_refusals import Scrubber, json_instead_of_stream, refusal_for_client
from opencompress.gateway.upstreams import resolve_upstream
from opencompress.observability.requests import new_request_id, note_request
from opencompress.ratelimit.base import Decision
from opencompress.storage.base import ApiKey
from opencompress.upstream.client import Upstream, UpstreamResponse, loads_json
from opencompress.wire.chat_request import ChatRequest, parse_chat_request

log = logging.getLogger("opencompress.gateway")


def extract_api_key(headers: Mapping[str, str]) -> str:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key", "").strip()


@dataclass(kw_only=True)
class PreparedChat:
    request_id: str
    key: ApiKey
    chat: ChatRequest
    upstream: Upstream
    compression: CompressionOutcome
    decision: Decision
    price: ModelPrice
    model_label: str
    """The bounded metrics label of ``chat.model`` (looked up once, reused when settling)."""
    started: float
    created_at: float
    headers: dict[str, str] = field(default_factory=dict)
    client_gone: bool = False
    """The client disconnected before its answer; a cancellation that follows is settled as such."""

    def note_client_gone(self) -> None:
        self.client_gone = True

    def abandoned(self) -> StreamTally:
        """The tally of a request cancelled before anything reached the client."""
        return StreamTally(status="client_disconnected" if self.client_gone else "error")


def _response_headers(ctx: AppContext, prep: PreparedChat) -> dict[str, str]:
    c = prep.compression
    headers = {
        "x-request-id": prep.request_id,
        "x-opencompress-original-tokens": str(c.original_tokens),
        "x-opencompress-compressed-tokens": str(c.compressed_tokens),
        "x-opencompress-level": c.level,
        "x-opencompress-stages": ",".join(c.stages_applied) or "none",
        "x-opencompress-compression": c.status,
        "x-opencompress-format": FORMAT_VERSION,
        **rate_limit_headers(prep.decision),
    }
    if ctx.simulated and prep.upstream is ctx.default_upstream:
        headers["x-opencompress-upstream"] = "simulator"
    return headers


async def prepare_chat(ctx: AppContext, raw_body: bytes, headers: Mapping[str, str]) -> PreparedChat:
    """Everything before the upstream is contacted. On success the caller owns a rate-limit slot and a
    balance hold and must end with :func:`settle_request` (every path below does so on failure)."""
    key = await ctx.accounts.authenticate(extract_api_key(headers))
    chat = parse_chat_request(raw_body, headers)
    model_label = ctx.metrics.model_label(chat.model, ctx.prices.canonical)
    scope = note_request(key_id=key.id, model=chat.model, model_label=model_label)
    price = ctx.prices.lookup(chat.model)
    upstream = await resolve_upstream(ctx, key, headers)
    request_id = scope.request_id if scope is not None else new_request_id()
    decision = await acquire_slot(ctx, key, request_id)
    try:
        level = chat.level or key.compression_level or ctx.settings.compression_level
        compression = await run_compression(chat, level=level)
        estimate = estimate_hold_micros(
            input_tokens=compression.compressed_tokens,
            original_input_tokens=compression.original_tokens,
            max_output_tokens=output_budget(chat.body),
            price=price,
            mode=key.mode,
            fee_percent=ctx.settings.fee_percent,
        )
        held = await ctx.storage.reserve(key.account_id, request_id, estimate, ttl_s=ctx.holds.ttl_s)
        if held <= 0:
            raise BillingError("Insufficient balance. Add credit to your account to continue.")
        ctx.holds.track(request_id)  # forgotten when settled (every path below settles)
    except BaseException:
        await ctx.limiter.release(key.id, request_id)
        raise
    prep = PreparedChat(
        request_id=request_id,
        key=key,
        chat=chat,
        upstream=upstream,
        compression=compression,
        decision=decision,
        price=price,
        model_label=model_label,
        started=time.perf_counter(),
        created_at=time.time(),
    )
    prep.headers = _response_headers(ctx, prep)
    ctx.key_usage.note(key.id, prep.created_at)
    if scope is not None:
        scope.handled = True  # from here on, settling writes this request's log line and metrics
    return prep


def _forward_body(prep: PreparedChat) -> bytes:
    """The upstream request: the client's own bytes when nothing in them changes (compression off
    or a no-op, no ``compression`` field, no stream to ask usage of), else the edited body."""
    if prep.chat.raw is not None and not prep.chat.stream and prep.compression.messages is prep.chat.messages:
        return prep.chat.raw
    body = dict(prep.chat.body)
    body["messages"] = prep.compression.messages
    if prep.chat.stream:
        options = dict(body.get("stream_options") or {})
        options["include_usage"] = True
        body["stream_options"] = options
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _scrubber(ctx: AppContext, prep: PreparedChat) -> Scrubber | None:
    """In router mode the request used the operator's provider key: what the upstream says about
    that account is scrubbed before it reaches the client. With BYOK it is the client's own."""
    return Scrubber(prep.upstream.api_key) if prep.upstream is ctx.default_upstream else None


async def open_upstream(ctx: AppContext, prep: PreparedChat) -> UpstreamResponse:
    """Send the compressed request; on failure settle at zero and re-raise the mapped error."""
    try:
        response = await ctx.upstream_client.post_chat(
            prep.upstream, _forward_body(prep), request_id=prep.request_id
        )
        if prep.chat.stream and response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                payload = await response.read()
            finally:
                response.close()
            raise json_instead_of_stream(payload, scrubber=_scrubber(ctx, prep))
        return response
    except OpenCompressError as exc:
        await settle_request(ctx, prep, StreamTally(status="upstream_error"), charge_output=False, error=exc)
        if isinstance(exc, UpstreamStatusError):
            raise refusal_for_client(exc, scrubber=_scrubber(ctx, prep)) from None
        raise
    except BaseException:  # a bug or a cancellation (client gone, shutdown): still settle, then re-raise
        # In the background: a second cancellation of this task cannot interrupt it there.
        ctx.background.spawn(settle_request(ctx, prep, prep.abandoned(), charge_output=False))
        raise


def _restorer(prep: PreparedChat) -> ResponseRestorer | None:
    aliases = prep.compression.aliases
    return ResponseRestorer(aliases) if aliases else None


_LEADING_ID = re.compile(rb'\A\s*\{\s*"id"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _with_id(payload: bytes, body: dict[str, Any], request_id: str) -> bytes | None:
    """The upstream's own bytes with ``request_id`` as the id, when only the id has to change and
    the id is the object's first key (as every provider sends it); else ``None``, and the caller
    re-encodes the parsed body. Keeps the answer as the provider wrote it, and skips an encode."""
    found = _LEADING_ID.match(payload)
    if found is None:
        return None
    try:
        written = json.loads(b'"' + found.group(1) + b'"')
    except ValueError:
        return None
    if written != body.get("id"):  # a later duplicate "id" key is the one parsers keep
        return None
    return payload[: found.start(1)] + request_id.encode() + payload[found.end(1) :]


async def complete_chat(ctx: AppContext, prep: PreparedChat, response: UpstreamResponse) -> bytes:
    """Non-streaming: read the upstream body, restore aliases, fix id/usage, return JSON.

    The charge is settled right after the answer, as it is after a stream: billing is bookkeeping
    the client should not wait for. The concurrency slot is given back before returning (so the
    client's next request never meets its own finished one), the settle is spawned before that
    (so it runs whatever happens next, a cancellation included), and the balance stays held
    until its transaction commits, so no other request can spend the money meanwhile. A failure
    to read the upstream is still settled (at zero) before the error is raised; a cancellation
    while reading (the client left, or shutdown) is settled in the background (nothing delivered)."""
    tally = StreamTally()
    try:
        payload = await response.read()
        tally.first_byte_at = time.perf_counter()
        body = loads_json(payload)
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            raise UpstreamError(
                "The upstream provider sent an unexpected response.", code="upstream_bad_response"
            )
    except OpenCompressError as exc:
        await settle_request(ctx, prep, StreamTally(status="upstream_error"), charge_output=False, error=exc)
        raise
    except BaseException:  # a cancellation (client gone, shutdown) or a bug: nothing was delivered
        ctx.background.spawn(settle_request(ctx, prep, prep.abandoned(), charge_output=False))
        raise
    finally:
        response.close()
    restorer = _restorer(prep)
    for choice in body["choices"]:
        if isinstance(choice, dict):
            if restorer is not None:
                restorer.message(choice)
            collect_text(choice.get("message"), tally.relayed_text)
    usage = body["usage"] if is_openai_usage(body.get("usage")) else None  # another API's shape: ours
    tally.usage = usage
    tally.answered = bool(body["choices"])
    tally.status = "ok"
    prompt = tally.prompt_tokens()
    if prompt is None:
        prompt = prep.compression.compressed_tokens
    completion = tally.output_tokens()
    fixed_usage = {**(usage or {}), "prompt_tokens": prompt, "completion_tokens": completion}
    fixed_usage["total_tokens"] = prompt + completion
    answer = (
        None if restorer is not None or fixed_usage != usage else _with_id(payload, body, prep.request_id)
    )
    if answer is None:
        body["usage"] = fixed_usage
        body["id"] = prep.request_id
        answer = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    ctx.background.spawn(settle_request(ctx, prep, tally, charge_output=True))  # first: nothing can stop it
    await ctx.limiter.release(prep.key.id, prep.request_id)
    return answer


class ChatStream:
    """The streaming answer as an async iterator of SSE bytes.

    :meth:`finish` must be called exactly once after iteration stops for any reason (end, error,
    client disconnect); it closes the upstream connection at once — cancelling generation — and
    settles in the background so that a cancelled request task cannot interrupt billing."""

    def __init__(self, ctx: AppContext, prep: PreparedChat, response: UpstreamResponse) -> None:
        self._ctx = ctx
        self._prep = prep
        self._response = response
        self.tally = StreamTally()
        self._relay = ChatStreamRelay(
            response=response,
            request_id=prep.request_id,
            client_wants_usage_chunk=prep.chat.include_usage,
            restorer=_restorer(prep),
            fallback_prompt_tokens=prep.compression.compressed_tokens,
            tally=self.tally,
            scrubber=_scrubber(ctx, prep),
        )
        self._finished = False
        ctx.active_streams += 1

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._events()

    async def _events(self) -> AsyncIterator[bytes]:
        """The relay's events; the concurrency slot is given back *before* the closing events.

        The relay marks the tally finished just before its last events (``[DONE]`` or the error
        event). Releasing there means a client that reads the end of one stream and at once sends
        its next request never sees a spurious 429 from its own finished stream; settling (which
        releases again, idempotently) still runs after the stream in :meth:`finish`."""
        released = False
        async for event in self._relay:
            if not released and self.tally.status != "in_progress":
                released = True
                try:
                    await self._ctx.limiter.release(self._prep.key.id, self._prep.request_id)
                except Exception:  # noqa: BLE001 - settling retries the release and logs
                    log.warning("early slot release failed for %s", self._prep.request_id, exc_info=True)
            yield event

    def cut_off_event(self) -> bytes:
        """The last event of an answer the gateway itself had to cut (its shutdown grace ran out)."""
        return error_event(
            "The gateway is shutting down and had to end this answer early; it may be incomplete.",
            type_="server_error",
            code="server_shutdown",
        )

    def finish(self, *, client_disconnected: bool) -> None:
        if self._finished:
            return
        self._finished = True
        self._ctx.active_streams -= 1
        self._response.close()
        if client_disconnected and self.tally.status == "in_progress":
            self.tally.status = "client_disconnected"
        elif self.tally.status == "in_progress":
            self.tally.status = "error"
        self._ctx.background.spawn(settle_request(self._ctx, self._prep, self.tally, charge_output=True))
