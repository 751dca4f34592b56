"""The one place errors become HTTP responses.

:class:`OpenCompressError` subclasses carry their status/type/code; Starlette's own HTTP errors
(unknown route, wrong method) get the same OpenAI-style body; anything else is a bug and becomes
a 500 ``internal_error`` whose body never contains a traceback. Upstream 4xx are relayed with
the upstream's own status and body so SDKs raise the matching exception class.

Every response here gets the request's ``x-request-id`` from the request observer, which wraps
the exception middleware; only the 500 (built outside it, by Starlette's outermost error
middleware) adds the id itself.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opencompress.errors import OpenCompressError, UpstreamStatusError
from opencompress.gateway.headers import REQUEST_ID
from opencompress.observability.logs import current_request_id

log = logging.getLogger("opencompress.http")

_STARLETTE_TYPES = {
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


def error_response(exc: OpenCompressError) -> Response:
    if isinstance(exc, UpstreamStatusError) and exc.body:
        return Response(
            exc.body, status_code=exc.upstream_status, media_type=exc.content_type, headers=exc.headers()
        )
    status = exc.upstream_status if isinstance(exc, UpstreamStatusError) else exc.status
    return JSONResponse(exc.to_body(), status_code=status, headers=exc.headers())


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenCompressError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    type_, code = _STARLETTE_TYPES.get(exc.status_code, ("invalid_request_error", "http_error"))
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":  # no route: say which, as OpenAI does
        message = f"Invalid URL ({request.method} {request.url.path[:200]})."
    body = {"error": {"message": message, "type": type_, "code": code, "param": None}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    request_id = current_request_id()  # also on the log line, so a user's report can be matched
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    reference = f" (request id {request_id})" if request_id else ""
    body = {
        "error": {
            "message": f"The gateway hit an internal error{reference}.",
            "type": "internal_error",
            "code": "internal_error",
            "param": None,
        }
    }
    headers = {REQUEST_ID: request_id} if request_id else None
    return JSONResponse(body, status_code=500, headers=headers)


EXCEPTION_HANDLERS = {
    OpenCompressError: handle_gateway_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
