"""Re-send the session cookie when a request slid its session's expiry forward.

A session used in the second half of its lifetime is renewed on the server
(:meth:`opencompress.accounts.sessions.SessionService.resume`). The browser only keeps the cookie
for the ``Max-Age`` it was last given, so the renewal needs a fresh cookie on the response too.
Otherwise a user who works only through ``/api/*`` calls would be signed out at the original
time, although the server still honours the session.

Whoever resumes a session (the console API's :func:`opencompress.http.auth.authenticate`, the
dashboard's page wrapper) calls :func:`note_renewed`. This middleware then adds the cookie to
whatever response goes out (JSON, CSV stream, HTML page, error), unless the response sets the
session cookie itself (signing in or out). The LLM API never uses sessions, so its paths pass
straight through and pay nothing for the wrapper.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencompress.accounts.sessions import SESSION_COOKIE, ActiveSession

SCOPE_KEY = "opencompress.renewed_session"
LLM_API_PREFIXES = ("/v1/", "/api/v1/", "/chat/")
_COOKIE_PREFIX = f"{SESSION_COOKIE}=".encode()


def note_renewed(scope: Scope, session: ActiveSession) -> None:
    """Mark the request so its response carries the session cookie again (when it was renewed)."""
    if session.renewed:
        scope[SCOPE_KEY] = session.token


def session_cookie(token: str, *, ttl_s: float, secure: bool) -> Response:
    """A response carrying only the sign-in cookie: the one definition of its attributes.
    HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure whenever
    the request came over https."""
    response = Response()
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(ttl_s), path="/", httponly=True, samesite="lax", secure=secure
    )
    return response


class SessionCookieRenewal:
    """Pure ASGI middleware: adds the renewed session's cookie to the response headers."""

    def __init__(self, app: ASGIApp, *, ttl_s: float) -> None:
        self.app = app
        self.ttl_s = ttl_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(LLM_API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            token = scope.get(SCOPE_KEY)
            if message["type"] == "http.response.start" and token is not None:
                headers = list(message.get("headers") or ())
                if not any(k.lower() == b"set-cookie" and v.startswith(_COOKIE_PREFIX) for k, v in headers):
                    secure = scope.get("scheme") == "https"
                    cookie = session_cookie(token, ttl_s=self.ttl_s, secure=secure)
                    headers.extend((k, v) for k, v in cookie.raw_headers if k == b"set-cookie")
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
