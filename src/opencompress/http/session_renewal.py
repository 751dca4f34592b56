"""The session cookie: its attributes, and re-sending it when a request slid its session's expiry.

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

The cookie's ``Max-Age`` is the time left until the session's expiry, so a session held to its
absolute lifetime does not leave a cookie behind that outlives it. ``Secure`` follows
``OPENCOMPRESS_COOKIE_SECURE`` (:func:`cookie_secure`), for every cookie the gateway sets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencompress.accounts.sessions import SESSION_COOKIE, ActiveSession

SCOPE_KEY = "opencompress.renewed_session"
LLM_API_PREFIXES = ("/v1/", "/api/v1/", "/chat/")
_COOKIE_PREFIX = f"{SESSION_COOKIE}=".encode()


@dataclass(frozen=True)
class _Renewal:
    token: str
    expires_at: float
    secure: bool


def cookie_secure(request: Request) -> bool:
    """Whether cookies set on this request's response get ``Secure``.

    ``auto`` (the default): when the request came over https as the server sees it; uvicorn
    takes the scheme from ``X-Forwarded-Proto`` only when the peer is a trusted proxy (by default
    one on loopback), so a same-host TLS proxy works without configuration. ``true``: always, for
    a TLS-terminating proxy on another host, whose requests arrive as plain http. ``false``: never
    (local http development only; a browser then sends the cookie over plain http too)."""
    setting: str = request.app.state.ctx.settings.cookie_secure
    if setting == "auto":
        return request.url.scheme == "https"
    return setting == "true"


def max_age_until(expires_at: float) -> int:
    """Whole seconds from now until ``expires_at`` (never negative): a cookie's ``Max-Age``."""
    return max(0, round(expires_at - time.time()))


def note_renewed(request: Request, session: ActiveSession) -> None:
    """Mark the request so its response carries the session cookie again (when it was renewed)."""
    if session.renewed:
        request.scope[SCOPE_KEY] = _Renewal(session.token, session.expires_at, cookie_secure(request))


def session_cookie(token: str, *, ttl_s: float, secure: bool) -> Response:
    """A response carrying only the sign-in cookie: the one definition of its attributes.
    HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it), Secure as
    :func:`cookie_secure` decides."""
    response = Response()
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(ttl_s), path="/", httponly=True, samesite="lax", secure=secure
    )
    return response


class SessionCookieRenewal:
    """Pure ASGI middleware: adds the renewed session's cookie to the response headers.

    ``ttl_s`` (the sliding lifetime) bounds the cookie's ``Max-Age``; the session's own expiry
    sets it."""

    def __init__(self, app: ASGIApp, *, ttl_s: float) -> None:
        self.app = app
        self.ttl_s = ttl_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(LLM_API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            renewal = scope.get(SCOPE_KEY)
            if message["type"] == "http.response.start" and isinstance(renewal, _Renewal):
                headers = list(message.get("headers") or ())
                if not any(k.lower() == b"set-cookie" and v.startswith(_COOKIE_PREFIX) for k, v in headers):
                    max_age = min(self.ttl_s, max_age_until(renewal.expires_at))
                    cookie = session_cookie(renewal.token, ttl_s=max_age, secure=renewal.secure)
                    headers.extend((k, v) for k, v in cookie.raw_headers if k == b"set-cookie")
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
