"""POST /v1/chat/completions (also /api/v1/chat/completions): parse, call the core, respond."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opencompress.gateway.chat import ChatStream, complete_chat, open_upstream, prepare_chat
from opencompress.gateway.context import AppContext
from opencompress.http.body import read_body
from opencompress.http.sse import SSEResponse


async def chat_completions(request: Request) -> Response | SSEResponse:
    ctx: AppContext = request.app.state.ctx
    raw = await read_body(request, ctx.settings.max_body_bytes)
    prep = await prepare_chat(ctx, raw, request.headers)
    upstream = await open_upstream(ctx, prep)
    if prep.chat.stream:
        return SSEResponse(ChatStream(ctx, prep, upstream), prep.headers)
    body = await complete_chat(ctx, prep, upstream)
    return Response(body, media_type="application/json", headers=prep.headers)


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/api/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
]
