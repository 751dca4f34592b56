"""The one forwarding path to any OpenAI-compatible upstream (OpenAI, OpenRouter, vLLM, Groq, the
built-in simulator): the simulator is reached through exactly this code.

aiohttp rather than httpx: measured in a minimal relay, httpx cost ~10× the CPU per request.
aiohttp and timeout exceptions are converted to :class:`UpstreamError` here, at the adapter
boundary, and nowhere else. A connection failure before any byte arrived is retried once; once a
response has started nothing is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from opencompress.errors import UpstreamError, UpstreamStatusError

_RETRYABLE = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
"""Failures that happen before the upstream sent any response byte (connect, reset, stale pooled socket)."""


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """Where one request goes. ``api_key`` is never logged or stored by this module."""

    base_url: str
    api_key: str

    def __repr__(self) -> str:
        return f"Upstream(base_url={self.base_url!r}, api_key=<redacted>)"


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


def _as_upstream_error(exc: BaseException) -> UpstreamError:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError("The upstream provider timed out.", code="upstream_timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError("Could not connect to the upstream provider.", code="upstream_connect_error")
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return UpstreamError(
            "The upstream provider closed the connection early.", code="upstream_disconnected"
        )
    return UpstreamError("The upstream provider request failed.", code="upstream_error")


class UpstreamClient:
    """One pooled aiohttp session per process, created in the app's lifespan."""

    def __init__(self, *, connect_timeout_s: float, read_timeout_s: float, limit: int = 1000) -> None:
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s, sock_read=read_timeout_s)
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, auto_decompress=True, trust_env=False
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post_chat(self, upstream: Upstream, body: bytes, *, request_id: str) -> UpstreamResponse:
        """POST ``body`` to ``{base_url}/chat/completions``.

        Returns the started response for 2xx. Raises :class:`UpstreamStatusError` for 4xx (status
        and body are relayed as they are) and :class:`UpstreamError` for 5xx, connect errors and
        timeouts before the first byte.
        """
        if self._session is None:
            await self.start()
        assert self._session is not None
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "X-Request-Id": request_id,
        }
        if upstream.api_key:
            headers["Authorization"] = f"Bearer {upstream.api_key}"
        response = await self._post_with_retry(url, body, headers)
        if response.status < 400:
            return UpstreamResponse(response)
        try:
            payload = await response.read()
        except (TimeoutError, aiohttp.ClientError):
            payload = b""
        finally:
            response.release()
        if response.status < 500:
            content_type = response.headers.get("Content-Type", "application/json")
            raise UpstreamStatusError(response.status, payload, content_type)
        raise UpstreamError(
            f"The upstream provider failed with HTTP {response.status}.",
            code=f"upstream_http_{response.status}",
        )

    async def _post_with_retry(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        assert self._session is not None
        attempts = 2
        for attempt in range(attempts):
            try:
                return await self._session.post(url, data=body, headers=headers)
            except _RETRYABLE as exc:
                if attempt + 1 == attempts:
                    raise _as_upstream_error(exc) from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise _as_upstream_error(exc) from None
        raise AssertionError("unreachable")


def loads_json(payload: bytes) -> Any:
    """Parse an upstream JSON body; garbage becomes an UpstreamError, not a 500."""
    import json

    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        raise UpstreamError(
            "The upstream provider sent a body that is not JSON.", code="upstream_bad_response"
        ) from None
