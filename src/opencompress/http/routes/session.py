"""Sign-in for account owners: ``POST /auth/login``, ``POST /auth/logout``, ``GET /api/me``.

The session token travels only in the cookie: HttpOnly (page scripts cannot read it), SameSite
Lax (not sent on cross-site POSTs), Path=/, and Secure as ``OPENCOMPRESS_COOKIE_SECURE`` says (by
default when the request came over https). The login response carries the CSRF token the
dashboard echoes in ``X-CSRF-Token``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opencompress.accounts.present import account_json, iso_time
from opencompress.accounts.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from opencompress.errors import AuthError, InvalidRequestError, PermissionDeniedError
from opencompress.http.auth import check_same_origin, context, require_account, set_session_cookie
from opencompress.http.routes._params import NO_STORE, json_body, opt_str, respond


async def login(request: Request) -> JSONResponse:
    check_same_origin(request)
    body = await json_body(request, allowed={"email", "password"})
    email, password = opt_str(body, "email"), opt_str(body, "password")
    if not email or not password:
        raise InvalidRequestError("Send email and password.", param="email" if not email else "password")
    ctx = context(request)
    address = request.client.host if request.client else None  # throttling is per address too
    active = await ctx.sessions.sign_in(email, password, client=address)
    response = respond(
        {
            "account": account_json(active.account),
            "csrfToken": active.csrf_token,
            "expiresAt": iso_time(active.expires_at),
        }
    )
    set_session_cookie(response, request, active)
    return response


async def logout(request: Request) -> Response:
    """End the cookie's session (CSRF token required while it is valid) and clear the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            await context(request).sessions.resume(token)
        except AuthError:
            token = None  # expired or unknown: nothing to end, just clear the cookie
    if token:
        check_same_origin(request)
        if not csrf_matches(token, request.headers.get(CSRF_HEADER)):
            raise PermissionDeniedError(f"Missing or invalid {CSRF_HEADER} header.", code="csrf_failed")
        await context(request).sessions.sign_out(token)
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def me(request: Request) -> JSONResponse:
    caller = await require_account(request)
    assert caller.account_id is not None
    account = await context(request).accounts.get_account(caller.account_id)
    session = caller.session
    return respond(
        {
            "account": account_json(account),
            "via": caller.kind,
            "csrfToken": session.csrf_token if session else None,
            "expiresAt": iso_time(session.expires_at) if session else None,
        }
    )


routes = [
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
]
