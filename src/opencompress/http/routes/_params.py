"""Small, strict readers for the console endpoints' JSON bodies and query strings.

Strict on purpose: unknown fields, wrong types and floats for money are 400s that name the
field, so a typo (``amount_usd`` sent as ``amountUSD``) fails loudly instead of being ignored.
Inputs accept snake_case and the camelCase the responses use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from opencompress.errors import InvalidRequestError
from opencompress.http.body import read_body
from opencompress.wire.chat_request import parse_json_object

MAX_CONSOLE_BODY = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


async def json_body(request: Request, *, allowed: Iterable[str]) -> dict[str, Any]:
    """The JSON object body (``{}`` when empty); 400 for another content type or unknown fields."""
    raw = await read_body(request, MAX_CONSOLE_BODY)
    if not raw.strip():
        body: dict[str, Any] = {}
    else:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise InvalidRequestError("Send the body as JSON with Content-Type: application/json.")
        body = parse_json_object(raw)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequestError(
            f"Unknown field {unknown[0]!r}.", code="unknown_parameter", param=unknown[0]
        )
    return body


def pick(body: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """``(name, value)`` of the first of ``names`` present (``(names[0], None)`` when none is);
    400 when two spellings of the same field are both sent."""
    present = [n for n in names if n in body and body[n] is not None]
    if len(present) > 1:
        raise InvalidRequestError(f"Send only one of {', '.join(present)}.", param=present[0])
    return (present[0], body[present[0]]) if present else (names[0], None)


def opt_str(body: Mapping[str, Any], *names: str) -> str | None:
    name, value = pick(body, *names)
    if value is not None and not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string.", code="invalid_type", param=name)
    return value


def opt_int(body: Mapping[str, Any], *names: str) -> int | None:
    name, value = pick(body, *names)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidRequestError(f"{name} must be an integer.", code="invalid_type", param=name)
    return value


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequestError(f"{name} must be an integer.", code="invalid_type", param=name) from None


def respond(data: Any, status: int = 200) -> JSONResponse:
    """JSON that browsers and proxies must not cache (it may hold a one-time key or a CSRF token)."""
    return JSONResponse(data, status_code=status, headers=NO_STORE)
