"""GET /health, GET /v1/models, GET /api/config."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from opencompress import __version__
from opencompress.gateway.context import AppContext


async def health(request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    return JSONResponse(
        {"status": "ok", "version": __version__, "upstream": "simulator" if ctx.simulated else "configured"}
    )


async def models(request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "opencompress"}
        for name in ctx.prices.models()
    ]
    return JSONResponse({"object": "list", "data": data})


async def config(request: Request) -> JSONResponse:
    from opencompress.compression.policy import describe_config

    ctx: AppContext = request.app.state.ctx
    return JSONResponse(
        {
            "compression": {**describe_config(), "default_level": ctx.settings.compression_level},
            "billing": {"fee_percent": ctx.settings.fee_percent, "currency": "USD", "unit": "micro-dollars"},
            "prices": {
                name: {
                    "input_micros_per_1m": p.input_micros_per_1m,
                    "output_micros_per_1m": p.output_micros_per_1m,
                }
                for name, p in ctx.prices.models().items()
            },
            "limits": {
                "requests_per_minute": ctx.settings.default_rpm,
                "concurrency": ctx.settings.default_concurrency,
            },
        }
    )


async def root(request: Request) -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=307)


routes = [
    Route("/", root, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/api/v1/models", models, methods=["GET"]),
    Route("/api/config", config, methods=["GET"]),
]
