"""The one log line and the request metrics of each HTTP request, written exactly once.

Two writers, never both for the same request: a chat request the use case accepted
(``RequestScope.handled``) is written by billing when it settles — the only point that knows the
tokens, the charge and how a stream ended, and one every accepted request reaches exactly once;
everything else (401/400/402/429/413, other routes) is written by :class:`RequestObserver` when the
response is done. Neither path may raise into request handling: observability is best-effort.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opencompress.gateway.headers import REQUEST_ID
from opencompress.observability.logs import CURRENT_REQUEST, RequestScope
from opencompress.observability.metrics import UNKNOWN_MODEL, GatewayMetrics
from opencompress.storage.base import UsageRecord

REQUEST_LOG = logging.getLogger("opencompress.request")
log = logging.getLogger("opencompress.observability")

QUIET_PATHS = frozenset({"/health", "/metrics"})
"""Probes and scrapes: their lines go to debug, not info, so they do not drown real traffic."""
PROMPT_LOG_LIMIT = 8_000
"""With ``log_content`` on, at most this many characters of the prompt go into a line."""
MODEL_LOG_LIMIT = 200

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = REQUEST_ID.encode()


def new_request_id() -> str:
    return "gen-" + secrets.token_urlsafe(18)


def is_chat_path(path: str) -> bool:
    return path.endswith("/chat/completions")


def note_request(*, key_id: str, model: str, model_label: str) -> RequestScope | None:
    """Record who is calling and for which model on the current request (for its line/metrics)."""
    scope = CURRENT_REQUEST.get()
    if scope is not None:
        scope.key_id = key_id
        scope.model = model[:MODEL_LOG_LIMIT]
        scope.model_label = model_label
    return scope


def _write_line(level: int, message: str, fields: dict[str, Any]) -> None:
    if REQUEST_LOG.isEnabledFor(level):
        REQUEST_LOG.log(level, message, extra={"fields": fields})


def finish_settled(
    metrics: GatewayMetrics,
    record: UsageRecord,
    *,
    model_label: str,
    http_status: int,
    upstream_error_code: str | None,
    charged_micros: int | None,
    stream: bool,
    prompt: Any = None,
) -> None:
    """Line + metrics of an accepted chat request, from its usage record (called by billing)."""
    try:
        metrics.count_request(model=model_label, status=http_status, seconds=record.total_ms / 1000)
        metrics.count_forwarded(
            original_tokens=record.original_input_tokens,
            compressed_tokens=record.compressed_input_tokens,
            ttfb_s=None if record.ttfb_ms is None else record.ttfb_ms / 1000,
            charged_micros=charged_micros or 0,
        )
        if upstream_error_code is not None:
            metrics.count_upstream_error(upstream_error_code)
        fields: dict[str, Any] = {
            "request_id": record.request_id,
            "key_id": record.key_id,
            "account_id": record.account_id,
            "model": record.model[:MODEL_LOG_LIMIT],
            "stream": stream,
            "status": http_status,
            "outcome": record.status,
            "original_input_tokens": record.original_input_tokens,
            "compressed_input_tokens": record.compressed_input_tokens,
            "output_tokens": record.output_tokens,
            "charged_micros": charged_micros,
            "compression_ms": record.compression_ms,
            "ttfb_ms": record.ttfb_ms,
            "latency_ms": record.total_ms,
        }
        if upstream_error_code is not None:
            fields["error_code"] = upstream_error_code
        # The balance ran out during the request, or (charged_micros None) no usage row could be
        # written at all: either way the operator's loss, made visible in the line and the metric.
        uncollected = record.charge_micros - (charged_micros or 0)
        if uncollected > 0:
            fields["uncollected_micros"] = uncollected
            if charged_micros is None:
                fields["unbilled"] = True
            metrics.uncollected_micros.inc(uncollected)
        if prompt is not None:
            fields["prompt"] = json.dumps(prompt, ensure_ascii=False, default=str)[:PROMPT_LOG_LIMIT]
        failed = http_status >= 500 or record.status in ("upstream_error", "error")
        level = logging.WARNING if failed or uncollected > 0 else logging.INFO
        _write_line(level, f"chat.completions {http_status} {record.status}", fields)
    except Exception:  # noqa: BLE001 - observability never breaks billing
        log.warning("could not record request %s", record.request_id, exc_info=True)


def finish_unhandled(metrics: GatewayMetrics, scope: RequestScope, status: int) -> None:
    """Line (+ metrics for chat routes) of a request the chat use case did not take over."""
    try:
        seconds = time.perf_counter() - scope.started
        chat = is_chat_path(scope.path)
        if chat:
            metrics.count_request(model=scope.model_label or UNKNOWN_MODEL, status=status, seconds=seconds)
        fields: dict[str, Any] = {
            "request_id": scope.request_id,
            "method": scope.method,
            "path": scope.path[:MODEL_LOG_LIMIT],
            "status": status,
            "latency_ms": round(seconds * 1000, 3),
        }
        if scope.key_id is not None:
            fields["key_id"] = scope.key_id
        if scope.model is not None:
            fields["model"] = scope.model
        if status >= 500:
            level = logging.ERROR
        elif scope.path in QUIET_PATHS:
            level = logging.DEBUG
        else:
            level = logging.INFO
        _write_line(level, f"{scope.method} {fields['path']} {status}", fields)
    except Exception:  # noqa: BLE001 - observability never breaks a response
        log.warning("could not record request %s", scope.request_id, exc_info=True)


class RequestObserver:
    """Pure ASGI middleware: request id + :class:`RequestScope` per HTTP request, final status.

    Sets :data:`CURRENT_REQUEST` (so every log line of the request carries its id), adds an
    ``x-request-id`` header to every response that lacks one, as OpenAI sends it on every answer
    (so a user can quote it and find the log line), and writes the line/metrics of requests
    billing will not write. Streams pass through untouched: the wrapper only looks at
    ``http.response.start``. A chat request the use case accepted (``handled``) already answers
    with the same id in its headers, so its answer is not scanned: the hot path pays one
    attribute test, no header walk.
    """

    def __init__(self, app: ASGIApp, *, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = RequestScope(
            request_id=new_request_id(),
            method=scope.get("method", ""),
            path=scope.get("path", ""),
            started=time.perf_counter(),
        )
        CURRENT_REQUEST.set(request)  # not reset: the outer 500 handler logs after we return
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if not request.handled or status >= 400:  # an accepted chat answer has its own
                    headers = list(message.get("headers") or ())
                    if not any(name.lower() == _REQUEST_ID for name, _ in headers):
                        headers.append((_REQUEST_ID, request.request_id.encode()))
                        message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            if not request.handled:
                finish_unhandled(self.metrics, request, status)
