"""POST /v1/chat/completions (also /api/v1/chat/completions): parse, call the core, respond."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opencompress.gateway.chat import ChatStream, complete_chat, open_upstream, prepare_chat
from opencompress.gateway.context import AppContext
from opencompress.http.body import read_body
from opencompress.http.disconnect import DisconnectWatch
from opencompress.http.sse import SSEResponse


async def chat_completions(request: Request) -> Response | SSEResponse:
    ctx: AppContext = request.app.state.ctx
    raw = await read_body(request, ctx.settings.max_body_bytes)
    prep = await prepare_chat(ctx, raw, request.headers)
    with DisconnectWatch(request.receive, prep.note_client_gone) as watch:
        try:
            upstream = await open_upstream(ctx, prep)
            if prep.chat.stream:
                watch.stop()  # from here the stream's own watcher takes over
                return SSEResponse(ChatStream(ctx, prep, upstream), prep.headers)
            body = await complete_chat(ctx, prep, upstream)
        except asyncio.CancelledError:
            if watch.swallow():  # the client left: the request is settled, there is no one to answer
                return Response(status_code=CLIENT_CLOSED_REQUEST)
            raise
    return Response(body, media_type="application/json", headers=prep.headers)


CLIENT_CLOSED_REQUEST = 499
"""nginx's status for a request whose client went away first; it only reaches the access log."""

routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/api/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
]
