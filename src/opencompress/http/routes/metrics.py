"""GET /metrics: this app's Prometheus metrics in the text exposition format (no auth, like
``/health``: scrapers run inside the operator's network; set ``metrics_enabled = false`` to hide it)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from opencompress.gateway.context import AppContext


async def metrics(request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    if not ctx.settings.metrics_enabled:
        raise HTTPException(404, "Not Found")
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)


routes = [Route("/metrics", metrics, methods=["GET"])]
