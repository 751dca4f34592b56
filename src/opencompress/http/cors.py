"""CORS for the LLM API, so browser apps can call the gateway as they call OpenAI.

OpenAI answers preflights and requests from any origin. A browser app using the openai SDK
(``dangerouslyAllowBrowser``) sends a preflight ``OPTIONS`` first, because of its
``Authorization`` header, and gives up unless that preflight succeeds.

Allowing any origin is safe on these paths: they authenticate with a bearer key the page must
already hold, never with cookies, so credentials are never allowed (no
``Access-Control-Allow-Credentials``) and a foreign page gains nothing it did not already have.
The cookie-authenticated console and dashboard are outside these prefixes and get no CORS
headers, so their CSRF defences stay as they are.

Requested headers are echoed in ``Access-Control-Allow-Headers``: the ``*`` wildcard never
covers ``Authorization``. Responses expose the gateway's own headers (request id, token counts,
rate limits; one list, :data:`~opencompress.gateway.headers.RESPONSE_HEADERS`), which scripts
could not read otherwise. A preflight ends here, before the request observer, so it gets its own
request id like every other answer.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencompress.gateway.headers import REQUEST_ID, RESPONSE_HEADERS
from opencompress.http.session_renewal import LLM_API_PREFIXES
from opencompress.observability.requests import new_request_id

EXPOSED = ", ".join(RESPONSE_HEADERS)
_EXPOSED_HEADER = (b"access-control-expose-headers", EXPOSED.encode())
PREFLIGHT_MAX_AGE_S = 600


class LlmApiCors:
    """Pure ASGI middleware; requests without an ``Origin`` header (every non-browser client)
    pass straight through after one header scan."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LLM_API_PREFIXES):
            await self.app(scope, receive, send)
            return
        origin = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"access-control-allow-origin", b"*"),
                    _EXPOSED_HEADER,
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(headers: Headers) -> Response:
        allow = {
            "access-control-allow-origin": "*",
            "access-control-allow-methods": "GET, POST, OPTIONS",
            "access-control-max-age": str(PREFLIGHT_MAX_AGE_S),
            "vary": "Access-Control-Request-Headers",
            REQUEST_ID: new_request_id(),
        }
        requested = headers.get("access-control-request-headers")
        if requested:
            allow["access-control-allow-headers"] = requested
        return Response(status_code=204, headers=allow)
