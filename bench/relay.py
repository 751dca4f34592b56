"""The minimal pass-through relay: the floor the gateway's overhead is measured against.

Starlette + one pooled aiohttp session, no auth, limits, compression or ledger: it forwards
``POST /v1/chat/completions`` bodies untouched and relays the answer chunk by chunk. It uses the
same server stack as ``opencompress serve`` (uvicorn defaults) and the same upstream client
library as the gateway, so the difference between the two is the gateway's own work.

Run: ``BENCH_RELAY_UPSTREAM=http://127.0.0.1:9000/v1 uvicorn --factory relay:create_app --app-dir bench``
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def create_app(upstream_base_url: str | None = None) -> Starlette:
    """``upstream_base_url`` (default env ``BENCH_RELAY_UPSTREAM``) ends in ``/v1``."""
    base = upstream_base_url or os.environ["BENCH_RELAY_UPSTREAM"]
    url = base.rstrip("/") + "/chat/completions"
    sessions: list[aiohttp.ClientSession] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=1000, limit_per_host=1000)
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=300)
        sessions.append(aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False))
        yield
        await sessions.pop().close()

    async def chat(request: Request) -> Response:
        headers = {"Content-Type": "application/json"}
        if "authorization" in request.headers:
            headers["Authorization"] = request.headers["authorization"]
        upstream = await sessions[0].post(url, data=await request.body(), headers=headers)
        content_type = upstream.headers.get("Content-Type", "application/json")
        if not content_type.startswith("text/event-stream"):
            try:
                return Response(await upstream.read(), upstream.status, media_type=content_type)
            finally:
                upstream.release()

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.content.iter_any():
                    yield chunk
            finally:
                upstream.close()  # mid-body on a client disconnect: abort, do not drain

        return StreamingResponse(relay(), upstream.status, media_type=content_type)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "relay": True})

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
