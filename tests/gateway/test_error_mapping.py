"""The one error mapping: unexpected exceptions become a 500 internal_error with no traceback."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from opencompress.errors import ConflictError, RateLimitError
from opencompress.http.errors import EXCEPTION_HANDLERS


async def boom(request: Request) -> Response:
    raise ValueError("secret internals /etc/passwd")


async def limited(request: Request) -> Response:
    raise RateLimitError("slow down", retry_after=2.2, headers={"X-RateLimit-Limit": "5"})


async def conflict(request: Request) -> Response:
    raise ConflictError("already exists")


app = Starlette(
    routes=[Route("/boom", boom), Route("/limited", limited), Route("/conflict", conflict)],
    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
)


def test_unexpected_exception_is_a_clean_500() -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "message": "The gateway hit an internal error.",
            "type": "internal_error",
            "code": "internal_error",
            "param": None,
        }
    }
    assert "passwd" not in r.text and "Traceback" not in r.text


def test_gateway_errors_keep_status_type_and_headers() -> None:
    with TestClient(app) as client:
        r = client.get("/limited")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        assert r.headers["x-ratelimit-limit"] == "5"
        assert r.json()["error"]["type"] == "rate_limit_error"
        r = client.get("/conflict")
        assert r.status_code == 409 and r.json()["error"]["type"] == "conflict_error"
