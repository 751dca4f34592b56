"""POST /v1/compress (also /api/compress): compression without a model call."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opencompress.gateway.chat import extract_api_key
from opencompress.gateway.compress_only import compress_only
from opencompress.gateway.context import AppContext
from opencompress.http.body import read_body
from opencompress.wire.chat_request import parse_json_object


async def compress(request: Request) -> JSONResponse:
    """Auth and body here; validation, the key's rate limits and the work in the use case."""
    ctx: AppContext = request.app.state.ctx
    key = await ctx.accounts.authenticate(extract_api_key(request.headers))
    body = parse_json_object(await read_body(request, ctx.settings.max_body_bytes))
    answer = await compress_only(ctx, key, body, request.headers)
    return JSONResponse(answer.body, headers=answer.headers)


routes = [
    Route("/v1/compress", compress, methods=["POST"]),
    Route("/api/compress", compress, methods=["POST"]),
]
