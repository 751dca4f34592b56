"""GET /health, GET /v1/models, GET /v1/models/{model}, GET /api/config."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from opencompress import __version__
from opencompress.errors import NotFoundError
from opencompress.gateway.context import AppContext
from opencompress.wire.chat_request import model_name_problem


async def health(request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    return JSONResponse(
        {"status": "ok", "version": __version__, "upstream": "simulator" if ctx.simulated else "configured"}
    )


def _model_object(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "opencompress"}


async def models(request: Request) -> JSONResponse:
    ctx: AppContext = request.app.state.ctx
    return JSONResponse({"object": "list", "data": [_model_object(name) for name in ctx.prices.models()]})


async def model(request: Request) -> JSONResponse:
    """``client.models.retrieve(id)``, which tools call to check a model before using it: 200 for
    any model this gateway accepts (in the price table, or any name while the operator bills
    unknown models at a default price), else 404 ``model_not_found``, as OpenAI answers."""
    ctx: AppContext = request.app.state.ctx
    name: str = request.path_params["model"]
    if (
        not name.strip()
        or model_name_problem(name)
        or (ctx.prices.canonical(name) is None and ctx.prices.default is None)
    ):
        raise NotFoundError(f"The model {name!r} is not available on this gateway.", code="model_not_found")
    return JSONResponse(_model_object(name))


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
    Route("/v1/models/{model:path}", model, methods=["GET"]),
    Route("/api/v1/models/{model:path}", model, methods=["GET"]),
    Route("/api/config", config, methods=["GET"]),
]
