"""Request plumbing shared by the dashboard pages: who is signed in, forms, CSRF, error pages.

The dashboard reuses the console's session machinery (``ctx.sessions``, the ``oc_session``
cookie set by ``POST /auth/login``) so one sign-in works for both the pages and ``/api/*``. The
differences are browser-shaped: forms post ``application/x-www-form-urlencoded`` bodies with the
CSRF token in a hidden ``csrf_token`` field (a plain form cannot set the ``X-CSRF-Token``
header), a missing session redirects to the sign-in page instead of answering 401, and errors
become HTML pages rather than JSON bodies.

The sign-in form has no session yet, so it is protected by a double-submit token: ``GET /login``
puts a random value in a short-lived, HttpOnly, SameSite=Strict cookie and in the form; ``POST
/login`` requires both to match. That stops a cross-site page from signing a victim into the
attacker's account (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from opencompress.accounts.sessions import SESSION_COOKIE, ActiveSession, csrf_matches
from opencompress.dashboard.render import page
from opencompress.errors import (
    AuthError,
    InvalidRequestError,
    OpenCompressError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from opencompress.gateway.context import AppContext
from opencompress.http.auth import check_same_origin, context
from opencompress.http.body import read_body
from opencompress.http.session_renewal import note_renewed

FORM_LIMIT_BYTES = 16 * 1024
MAX_FORM_FIELDS = 16
LOGIN_CSRF_COOKIE = "oc_login_csrf"
LOGIN_CSRF_MAX_AGE_S = 3600
CSRF_FIELD = "csrf_token"
HOME = "/dashboard"

Handler = Callable[[Request], Awaitable[Response]]
PageHandler = Callable[[Request, ActiveSession], Awaitable[Response]]


async def signed_in(request: Request) -> ActiveSession | None:
    """The session the cookie names, or ``None`` (no cookie, unknown, expired)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        session = await context(request).sessions.resume(token)
    except AuthError:
        return None
    note_renewed(request, session)  # the response re-sends the cookie (http/session_renewal.py)
    return session


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a dashboard path of this site (no open redirect)."""
    if not target or not target.startswith(HOME) or target.startswith("//") or "\\" in target:
        return HOME
    if any(ch.isspace() or ord(ch) < 0x20 for ch in target):
        return HOME
    return target


def to_login(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(safe_next(here), safe='/')}", status_code=303)


def see_other(url: str) -> RedirectResponse:
    """The answer to a successful form post (303: the browser follows with a GET)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form body (first value per field), bounded in size and field count."""
    raw = await read_body(request, FORM_LIMIT_BYTES)
    if not raw:
        return {}
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("Send the form as application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("The form could not be read.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def check_csrf(request: Request, session: ActiveSession, form: dict[str, str]) -> None:
    """403 unless the form carries this session's CSRF token and the request is same-origin."""
    check_same_origin(request)
    if not csrf_matches(session.token, form.get(CSRF_FIELD)):
        raise PermissionDeniedError(
            "This form is missing its security token or it has expired. Reload the page and try again.",
            code="csrf_failed",
        )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def check_login_csrf(request: Request, form: dict[str, str]) -> None:
    check_same_origin(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = form.get(CSRF_FIELD, "")
    if not cookie or not presented or not hmac.compare_digest(cookie.encode(), presented.encode()):
        raise PermissionDeniedError(
            "The sign-in form expired or cookies are blocked. Reload the page and try again.",
            code="csrf_failed",
        )


def chrome(ctx: AppContext, session: ActiveSession | None, page_name: str) -> dict[str, Any]:
    """What the layout needs on every page: the account, the nav state and the low-balance banner."""
    threshold = ctx.usage.low_balance_threshold_micros
    account = session.account if session else None
    return {
        "account": account,
        "csrf_token": session.csrf_token if session else "",
        "page": page_name,
        "low_balance": account is not None and account.balance_micros < threshold,
        "low_balance_threshold": threshold,
    }


_TITLES = {400: "Check your input", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def error_page(request: Request, session: ActiveSession | None, exc: OpenCompressError) -> Response:
    status = 413 if isinstance(exc, PayloadTooLargeError) else exc.status
    heading = _TITLES.get(status, "Something went wrong")
    back_url, back_label = (HOME, "Back to the overview") if session else ("/login", "Sign in")
    return page(
        "error.html",
        status=status,
        heading=heading,
        message=exc.message,
        back_url=back_url,
        back_label=back_label,
        **chrome(context(request), session, ""),
    )


def signed_in_page(handler: PageHandler) -> Handler:
    """Wrap a page handler: redirect to sign-in without a session; OpenCompress errors → HTML page.

    Errors of the service layer (404 for someone else's key, 403 for a bad CSRF token, 400 for
    bad input) keep their status code, so tests and clients see the same semantics as the API.
    A session whose expiry just slid forward gets its cookie re-sent with the new lifetime by
    :mod:`opencompress.http.session_renewal` (unless the page itself sets the cookie, e.g. signing
    out).
    """

    async def endpoint(request: Request) -> Response:
        session = await signed_in(request)
        if session is None:
            return to_login(request)
        try:
            response = await handler(request, session)
        except OpenCompressError as exc:
            if exc.status >= 500:
                raise
            response = error_page(request, session, exc)
        return response

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
