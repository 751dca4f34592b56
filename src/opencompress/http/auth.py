"""Who is calling the console endpoints (``/api/*`` except the LLM API, ``/admin/*``, ``/auth/*``).

Two credentials are accepted, never an ``sk-occ`` key (those only call the LLM API, so a leaked
app key cannot read usage, mint keys or see BYOK settings):

- ``Authorization: Bearer <admin token>`` (``OPENCOMPRESS_ADMIN_TOKEN``), compared in constant
  time. On ``/api/*`` an operator acts for the account named by ``?account_id=`` or
  ``X-Account-Id``.
- The session cookie from ``POST /auth/login``. Requests that change state (POST, PUT, PATCH,
  DELETE) must also carry the session's CSRF token in ``X-CSRF-Token``, and an ``Origin``
  header, when the browser sends one, must name this server.

A bearer token wins over a cookie: an explicit credential is what the caller meant.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from opencompress.accounts.keys import KEY_PREFIX
from opencompress.accounts.sessions import CSRF_HEADER, SESSION_COOKIE, ActiveSession, csrf_matches
from opencompress.errors import AuthError, InvalidRequestError, PermissionDeniedError
from opencompress.gateway.context import AppContext
from opencompress.http.session_renewal import cookie_secure, max_age_until, note_renewed, session_cookie

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ACCOUNT_HEADER = "X-Account-Id"


@dataclass(frozen=True)
class Caller:
    kind: Literal["admin", "session"]
    account_id: str | None
    """The account acted on: the signed-in owner's, or the one an operator named (``None`` on
    ``/admin/*``)."""
    session: ActiveSession | None = None


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    if value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None


def _same_token(presented: str, expected: str) -> bool:
    # Hash first so the comparison is constant-time even when the lengths differ.
    return hmac.compare_digest(
        hashlib.sha256(presented.encode("utf-8")).digest(), hashlib.sha256(expected.encode("utf-8")).digest()
    )


async def authenticate(request: Request) -> Caller:
    """The caller, or 401/403 with an OpenAI-style error; never echoes a credential."""
    ctx = context(request)
    token = _bearer(request)
    if (token or "").startswith(KEY_PREFIX) or request.headers.get("x-api-key"):
        raise PermissionDeniedError(
            "sk-occ API keys only call the LLM API (/v1/...). Sign in with email and password, or use "
            "the operator's admin token.",
            code="api_key_not_allowed",
        )
    if token is not None:
        if not ctx.settings.admin_token:
            raise AuthError(
                "Operator access is disabled on this gateway (OPENCOMPRESS_ADMIN_TOKEN is not set).",
                code="admin_disabled",
            )
        if not _same_token(token, ctx.settings.admin_token):
            raise AuthError("Invalid admin token.", code="invalid_admin_token")
        return Caller("admin", None)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthError(
            "Sign in first (POST /auth/login), or send the admin token as 'Authorization: Bearer …'.",
            code="not_signed_in",
        )
    session = await ctx.sessions.resume(cookie)
    note_renewed(request, session)
    if request.method in UNSAFE_METHODS:
        check_same_origin(request)
        if not csrf_matches(cookie, request.headers.get(CSRF_HEADER)):
            raise PermissionDeniedError(
                f"Missing or invalid {CSRF_HEADER} header (the csrfToken from sign-in or GET /api/me).",
                code="csrf_failed",
            )
    return Caller("session", session.account.id, session)


def check_same_origin(request: Request) -> None:
    """Refuse a browser request whose ``Origin`` is another site (defence in depth next to the
    CSRF token and SameSite cookies)."""
    origin = request.headers.get("origin")
    if origin is None:  # non-browser clients, same-origin GETs; a "null" origin is refused below
        return
    origin_host = origin.split("://", 1)[-1].rstrip("/").lower()
    # A reverse proxy that rewrites Host names the public host in X-Forwarded-Host; a cross-site
    # page cannot set that header on a victim's request, so accepting it opens nothing.
    hosts = {request.headers.get("host", "").lower()}
    hosts.update(
        h.strip().lower() for h in request.headers.get("x-forwarded-host", "").split(",") if h.strip()
    )
    if origin_host not in hosts:
        raise PermissionDeniedError("Cross-site request refused.", code="cross_site_request")


async def require_admin(request: Request) -> Caller:
    caller = await authenticate(request)
    if caller.kind != "admin":
        raise PermissionDeniedError("Operator endpoints need the admin token.", code="admin_only")
    return caller


async def require_account(request: Request) -> Caller:
    """A caller acting on one account: the signed-in owner, or an operator naming an account."""
    caller = await authenticate(request)
    if caller.kind == "session":
        return caller
    account_id = request.query_params.get("account_id") or request.headers.get(ACCOUNT_HEADER)
    if not account_id:
        raise InvalidRequestError(
            f"Operators must name the account: add ?account_id=acct_… or an {ACCOUNT_HEADER} header.",
            param="account_id",
        )
    await context(request).accounts.get_account(account_id)  # 404 for an unknown account
    return Caller("admin", account_id)


def set_session_cookie(response: Response, request: Request, session: ActiveSession) -> None:
    """Put the sign-in cookie of a new ``session`` on ``response`` (``POST /auth/login`` and the
    dashboard's sign-in form share it, so pages and ``/api/*`` use one session). It lives as long
    as the session (its expiry may be held to the absolute lifetime); its attributes are defined
    once, in :func:`opencompress.http.session_renewal.session_cookie`."""
    cookie = session_cookie(
        session.token, ttl_s=max_age_until(session.expires_at), secure=cookie_secure(request)
    )
    for name, value in cookie.raw_headers:
        if name == b"set-cookie":
            response.headers.append("set-cookie", value.decode("latin-1"))
