"""The one forwarding path to any OpenAI-compatible upstream (OpenAI, OpenRouter, vLLM, Groq, the
built-in simulator): the simulator is reached through exactly this code.

aiohttp rather than httpx: measured in a minimal relay, httpx cost ~10× the CPU per request.
aiohttp and timeout exceptions are converted to :class:`UpstreamError` here, at the adapter
boundary, and nowhere else. A connection failure before any byte arrived is retried once; once a
response has started nothing is retried.

Two pooled sessions: the operator's upstreams (trusted, may live on loopback or a private
network) and user-chosen ones (``Upstream.guarded``: BYOK URLs), whose connector resolves names
through :class:`PublicOnlyResolver` so a DNS answer cannot change between the SSRF check and
the connect. Redirects are never followed: an OpenAI-compatible API answers a POST directly,
and following one would send the provider key to wherever the redirect points (an IP literal
would not even pass a resolver).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from opencompress.errors import UpstreamError, UpstreamStatusError
from opencompress.upstream.public_resolver import PublicOnlyResolver

_RETRYABLE = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
"""Failures that happen before the upstream sent any response byte (connect, reset, stale pooled socket)."""

IDLE_REUSE_S = 4.0
"""How long an idle pooled upstream connection may be reused: under the 5 s keep-alive timeout of
uvicorn (vLLM, most FastAPI-based OpenAI-compatible servers) and of the OpenAI SDK's own pool.
aiohttp's default, 15 s, reuses connections the server is closing at that very moment, and when
two such sockets come up in a row the one retry is spent and the client gets a 502 (one request
in 8,400 of a benchmark run against the simulator). A direct SDK client reconnects after 5 s idle
anyway, so this costs no reconnect it would not have had, give or take a second."""


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """Where one request goes. ``api_key`` is never logged or stored by this module."""

    base_url: str
    api_key: str
    guarded: bool = False
    """A user-chosen URL: connect only to public addresses, checked at connect time."""

    def __repr__(self) -> str:
        return f"Upstream(base_url={self.base_url!r}, api_key=<redacted>, guarded={self.guarded})"


class UpstreamResponse:
    """A started upstream response; iterate :meth:`chunks` for the body, always :meth:`close`."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_upstream_error(exc) from None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _as_upstream_error(exc) from None

    def close(self) -> None:
        """Release (or, mid-body, abort) the connection: cancels the upstream generation."""
        self._response.close()


_GATEWAY_OWN = frozenset({"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"})


def relayed_error_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream headers a relayed 4xx keeps: when to retry (``retry-after``, ``retry-after-ms``)
    and the provider's own ``x-ratelimit-*`` budgets, which SDKs read to back off (OpenAI's client
    waits ``retry-after`` before retrying a 429). Names the gateway sets itself are left out, so
    its own limit headers are never contradicted; nothing else (cookies, provider request ids)
    crosses over."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        low = name.lower()
        if low in ("retry-after", "retry-after-ms") or (
            low.startswith("x-ratelimit-") and low not in _GATEWAY_OWN
        ):
            kept[low] = value
    return kept


def _as_upstream_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError("The upstream provider timed out.", code="upstream_timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError("Could not connect to the upstream provider.", code="upstream_connect_error")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return UpstreamError(
            "The upstream provider closed the connection early.", code="upstream_disconnected"
        )
    # The exception's kind (never its text, which can hold the URL and its credentials) is the
    # operator's only clue to an unexpected failure: it reaches the client and the request's log.
    return UpstreamError(
        f"The upstream provider request failed ({type(exc).__name__}).", code="upstream_error"
    )


class UpstreamClient:
    """One pooled aiohttp session per process, created in the app's lifespan."""

    def __init__(self, *, connect_timeout_s: float, read_timeout_s: float, limit: int = 1000) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s, sock_read=read_timeout_s)
        self._limit = limit
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def _new_session(self, guarded: bool) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=self._limit,
            ttl_dns_cache=300,
            keepalive_timeout=IDLE_REUSE_S,
            resolver=PublicOnlyResolver() if guarded else None,
        )
        return aiohttp.ClientSession(
            connector=connector, timeout=self._timeout, auto_decompress=True, trust_env=False
        )

    async def start(self) -> None:
        """Open the operator's session now (the guarded one opens on the first BYOK request)."""
        if False not in self._sessions:
            self._sessions[False] = self._new_session(False)

    def _session_for(self, upstream: Upstream) -> aiohttp.ClientSession:
        session = self._sessions.get(upstream.guarded)
        if session is None:
            session = self._sessions[upstream.guarded] = self._new_session(upstream.guarded)
        return session

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()

    async def post_chat(self, upstream: Upstream, body: bytes, *, request_id: str) -> UpstreamResponse:
        """POST ``body`` to ``{base_url}/chat/completions``.

        Returns the started response for 2xx. Raises :class:`UpstreamStatusError` for 4xx (status
        and body are relayed as they are) and :class:`UpstreamError` for 5xx, connect errors and
        timeouts before the first byte.
        """
        session = self._session_for(upstream)
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "X-Request-Id": request_id,
        }
        if upstream.api_key:
            headers["Authorization"] = f"Bearer {upstream.api_key}"
        response = await self._post_with_retry(session, url, body, headers)
        if response.status < 300:
            return UpstreamResponse(response)
        if response.status < 400:
            response.release()
            raise UpstreamError(
                f"The upstream provider answered with a redirect (HTTP {response.status}); "
                "redirects are not followed. Check the upstream base URL.",
                code="upstream_redirect",
            )
        try:
            payload = await response.read()
        except (TimeoutError, aiohttp.ClientError):
            payload = b""
        finally:
            response.release()
        if response.status < 500:
            raise client_error(response.status, payload, response.headers)
        raise UpstreamError(
            f"The upstream provider failed with HTTP {response.status}.",
            code=f"upstream_http_{response.status}",
        )

    @staticmethod
    async def _post_with_retry(
        session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        attempts = 2
        for attempt in range(attempts):
            try:
                return await session.post(url, data=body, headers=headers, allow_redirects=False)
            except _RETRYABLE as exc:
                if attempt + 1 == attempts:
                    raise _as_upstream_error(exc) from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise _as_upstream_error(exc) from None
        raise AssertionError("unreachable")


def _is_api_error(payload: bytes) -> bool:
    """Is ``payload`` an error body an OpenAI SDK reads: a JSON object with an ``error`` object,
    or the ``{"object": "error", "message": …}`` form older vLLM releases answer with?"""
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(body, dict) and (
        isinstance(body.get("error"), dict) or isinstance(body.get("message"), str)
    )


_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def client_error(status: int, payload: bytes, headers: Mapping[str, str]) -> UpstreamError:
    """The error for an upstream 4xx. An API error body is relayed with its status, so the SDK
    raises the right exception. Anything else (an HTML page from a proxy, plain text, FastAPI's
    ``{"detail": …}``) is not an answer from a chat completions API:

    * a 404 or 405 means the base URL points at no such endpoint: the operator's mistake, a 502
      (relayed, the SDK would raise ``NotFoundError`` and the client would blame its model name);
    * any other status keeps its status, with the text wrapped into the error object clients parse.
    """
    if _is_api_error(payload):
        content_type = headers.get("Content-Type", "application/json")
        return UpstreamStatusError(status, payload, content_type, headers=relayed_error_headers(headers))
    text = _SPACE.sub(" ", _TAGS.sub(" ", payload.decode("utf-8", "replace"))).strip()[:200]
    if status in (404, 405):
        return UpstreamError(
            f"The upstream provider has no chat completions endpoint at the configured base URL "
            f"(HTTP {status}). Check the upstream base URL; it usually ends in /v1.",
            code="upstream_bad_url",
        )
    message = f"The upstream provider answered HTTP {status}" + (f": {text}" if text else ".")
    body = {
        "error": {
            "message": message,
            "type": "upstream_error",
            "code": f"upstream_http_{status}",
            "param": None,
        }
    }
    wrapped = json.dumps(body, ensure_ascii=False).encode()
    return UpstreamStatusError(status, wrapped, "application/json", headers=relayed_error_headers(headers))


def loads_json(payload: bytes) -> Any:
    """Parse an upstream JSON body; garbage becomes an UpstreamError, not a 500."""
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise UpstreamError(
            "The upstream provider sent a body that is not JSON.", code="upstream_bad_response"
        ) from None
