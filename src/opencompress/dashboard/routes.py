"""The dashboard's pages: ``/login``, ``/logout`` and everything under ``/dashboard``.

Handlers stay thin: read the form or query, call the services the REST API uses (``ctx.sessions``,
``ctx.key_manager``, ``ctx.usage``), render a template. Nothing here decides who may see what:
every service call is scoped to the signed-in account, so another account's key or request id is
a 404 exactly as in the API.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from opencompress.accounts.key_manager import NewKey
from opencompress.accounts.present import rates
from opencompress.accounts.service import MAX_ACTIVE_KEYS
from opencompress.accounts.sessions import SESSION_COOKIE, ActiveSession
from opencompress.accounts.usage import Bucket, UsageQuery, parse_time
from opencompress.dashboard.chart import ChartDay, render_chart
from opencompress.dashboard.render import STATIC_DIR, STATIC_PREFIX, page
from opencompress.dashboard.web import (
    HOME,
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE_S,
    check_csrf,
    check_login_csrf,
    chrome,
    new_login_csrf,
    read_form,
    safe_next,
    see_other,
    signed_in,
    signed_in_page,
)
from opencompress.errors import AuthError, InvalidRequestError, OpenCompressError, RateLimitError
from opencompress.http.auth import context, set_session_cookie
from opencompress.http.session_renewal import cookie_secure
from opencompress.storage.base import ApiKey, UsageRecord

CHART_DAYS = 30
USAGE_PAGE_SIZE = 50


def compression_rate(row: UsageRecord) -> float | None:
    """The API's ``compressionRate``: compressed ÷ original input tokens (share kept)."""
    return rates(row.original_input_tokens, row.compressed_input_tokens)["compressionRate"]


# sign-in


async def login_form(request: Request) -> Response:
    if await signed_in(request) is not None:
        return see_other(safe_next(request.query_params.get("next")))
    return _login_page(request, next_url=safe_next(request.query_params.get("next")))


def _login_page(
    request: Request, *, next_url: str, email: str = "", error: str | None = None, status: int = 200
) -> Response:
    token = new_login_csrf()
    response = page(
        "login.html",
        status=status,
        login_csrf=token,
        next_url=next_url,
        email=email,
        error=error,
        notice="You are signed out." if request.query_params.get("signed_out") else None,
        **chrome(context(request), None, "login"),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_MAX_AGE_S,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )
    return response


async def login_submit(request: Request) -> Response:
    ctx = context(request)
    try:
        form = await read_form(request)
        check_login_csrf(request, form)
    except OpenCompressError as exc:
        return _login_page(request, next_url=HOME, error=exc.message, status=exc.status)
    email, next_url = form.get("email", "").strip(), safe_next(form.get("next"))
    try:
        client = request.client.host if request.client else None
        active = await ctx.sessions.sign_in(email, form.get("password", ""), client=client)
    except (AuthError, RateLimitError) as exc:  # 401 wrong credentials, 429 too many attempts
        return _login_page(request, next_url=next_url, email=email, error=exc.message, status=exc.status)
    response = see_other(next_url)
    # The same cookie as POST /auth/login, so the pages and /api/* share one sign-in.
    set_session_cookie(response, request, active)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@signed_in_page
async def logout(request: Request, session: ActiveSession) -> Response:
    check_csrf(request, session, await read_form(request))
    await context(request).sessions.sign_out(session.token)
    response = see_other("/login?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


# overview


@signed_in_page
async def overview(request: Request, session: ActiveSession) -> Response:
    ctx = context(request)
    account_id = session.account.id
    today = datetime.now(UTC).date()
    first_chart_day = today - timedelta(days=CHART_DAYS - 1)
    month_start = today.replace(day=1)
    since = _day_start(min(first_chart_day, month_start))
    summary = await ctx.usage.summary(account_id, UsageQuery(since=since), group="day")
    by_day = {b.period: b for b in summary.buckets}
    month = Bucket(period=month_start.strftime("%Y-%m"))
    for bucket in summary.buckets:
        if bucket.period >= month_start.isoformat():
            month = month.plus(bucket)
    chart_days = [_chart_day(day, by_day.get(day.isoformat())) for day in _days(first_chart_day, today)]
    recent = await ctx.usage.page(account_id, UsageQuery(), limit=5)
    return page(
        "overview.html",
        month=month,
        month_label=month_start.strftime("%B %Y"),
        chart=render_chart(chart_days),
        chart_days=chart_days,
        recent=recent.rows,
        fee_percent=ctx.settings.fee_percent,
        api_base=_api_base(request),
        **chrome(ctx, session, "overview"),
    )


def _chart_day(day: date, bucket: Bucket | None) -> ChartDay:
    if bucket is None or bucket.calls == 0:
        return ChartDay(day=day, savings_micros=0, rate=None)
    rate = rates(bucket.original_input_tokens, bucket.compressed_input_tokens)["compressionRate"]
    return ChartDay(day=day, savings_micros=max(0, bucket.money_saved_micros), rate=rate)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _api_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}/v1"


# keys


@signed_in_page
async def keys_page(request: Request, session: ActiveSession) -> Response:
    keys = await context(request).key_manager.list_keys(session.account.id)
    revoked_id = request.query_params.get("revoked")
    revoked = next((k for k in keys if k.id == revoked_id), None)
    notice = f"Key “{revoked.name}” ({revoked.prefix}…) was revoked." if revoked else None
    return _keys_page(request, session, keys=keys, notice=notice)


def _keys_page(
    request: Request,
    session: ActiveSession,
    *,
    keys: list[ApiKey],
    form: dict[str, str] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    ctx = context(request)
    values = form or {}
    return page(
        "keys.html",
        status=status,
        keys=keys,
        active_count=sum(1 for k in keys if k.is_active),
        max_active=ctx.accounts.max_active_keys or MAX_ACTIVE_KEYS,
        form={
            "name": values.get("name", ""),
            "mode": values.get("mode", "router"),
            "upstream_base_url": values.get("upstream_base_url", ""),
        },
        error=error,
        notice=notice,
        fee_percent=ctx.settings.fee_percent,
        **chrome(ctx, session, "keys"),
    )


@signed_in_page
async def create_key(request: Request, session: ActiveSession) -> Response:
    ctx = context(request)
    form = await read_form(request)
    check_csrf(request, session, form)
    mode = form.get("mode", "router")
    # The provider fields only count for BYOK: with JavaScript off they stay visible under "router".
    byok_url = form.get("upstream_base_url", "").strip() or None
    byok_key = form.get("upstream_api_key", "").strip() or None
    spec = NewKey(
        name=form.get("name", ""),
        mode=mode,
        upstream_base_url=byok_url if mode == "byok" else None,
        upstream_api_key=byok_key if mode == "byok" else None,
    )
    try:
        key, full_key = await ctx.key_manager.create_key(session.account.id, spec)
    except InvalidRequestError as exc:
        keys = await ctx.key_manager.list_keys(session.account.id)
        return _keys_page(request, session, keys=keys, form=form, error=exc.message, status=exc.status)
    return page(
        "key_created.html",
        key=key,
        full_key=full_key,
        api_base=_api_base(request),
        **chrome(ctx, session, "keys"),
    )


@signed_in_page
async def revoke_confirm(request: Request, session: ActiveSession) -> Response:
    key = await context(request).key_manager.get_key(session.account.id, request.path_params["key_id"])
    if not key.is_active:
        return see_other(f"{HOME}/keys?revoked={key.id}")
    return page("key_revoke.html", key=key, **chrome(context(request), session, "keys"))


@signed_in_page
async def revoke(request: Request, session: ActiveSession) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    key = await context(request).key_manager.revoke_key(session.account.id, request.path_params["key_id"])
    return see_other(f"{HOME}/keys?revoked={key.id}")


# usage


@signed_in_page
async def usage_page(request: Request, session: ActiveSession) -> Response:
    ctx = context(request)
    params = request.query_params
    filters = {name: (params.get(name) or "").strip() for name in ("from", "to", "key_id", "model")}
    keys = await ctx.key_manager.list_keys(session.account.id)
    error: str | None = None
    rows: list[UsageRecord] = []
    next_cursor: str | None = None
    try:
        query = UsageQuery(
            since=parse_time(filters["from"], param="from"),
            until=parse_time(filters["to"], param="to", end_of_day=True),
            key_id=filters["key_id"] or None,
            model=filters["model"] or None,
        )
        if query.key_id is not None and all(k.id != query.key_id for k in keys):
            await ctx.key_manager.get_key(session.account.id, query.key_id)  # 404, like the API
        result = await ctx.usage.page(
            session.account.id, query, cursor=params.get("cursor") or None, limit=USAGE_PAGE_SIZE
        )
        rows, next_cursor = result.rows, result.next_cursor
    except InvalidRequestError as exc:
        error = exc.message
    kept = {name: value for name, value in filters.items() if value}
    return page(
        "usage.html",
        status=400 if error else 200,
        filters={
            "from_text": filters["from"],
            "to_text": filters["to"],
            "key_id": filters["key_id"],
            "model": filters["model"],
        },
        keys=keys,
        key_names={k.id: k.name for k in keys},
        models=sorted(ctx.prices.models()),
        rows=rows,
        rate=compression_rate,
        error=error,
        csv_url="/api/usage.csv" + (f"?{urlencode(kept)}" if kept else ""),
        next_url=f"{HOME}/usage?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"{HOME}/usage" + (f"?{urlencode(kept)}" if kept else "") if params.get("cursor") else None,
        **chrome(ctx, session, "usage"),
    )


@signed_in_page
async def usage_detail(request: Request, session: ActiveSession) -> Response:
    ctx = context(request)
    row = await ctx.usage.get(session.account.id, request.path_params["request_id"])
    keys = await ctx.key_manager.list_keys(session.account.id)
    key = next((k for k in keys if k.id == row.key_id), None)
    return page(
        "usage_detail.html",
        row=row,
        key_name=f"{key.name} ({key.prefix}…)" if key else row.key_id,
        rate=compression_rate,
        **chrome(ctx, session, "usage"),
    )


routes: list[BaseRoute] = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route(HOME, overview, methods=["GET"]),
    Route(f"{HOME}/keys", keys_page, methods=["GET"]),
    Route(f"{HOME}/keys", create_key, methods=["POST"]),
    Route(f"{HOME}/keys/{{key_id}}/revoke", revoke_confirm, methods=["GET"]),
    Route(f"{HOME}/keys/{{key_id}}/revoke", revoke, methods=["POST"]),
    Route(f"{HOME}/usage", usage_page, methods=["GET"]),
    Route(f"{HOME}/usage/{{request_id}}", usage_detail, methods=["GET"]),
    Mount(STATIC_PREFIX, app=StaticFiles(directory=STATIC_DIR), name="dashboard-static"),
]
"""Add ``*dashboard.routes`` to the app's routes (the gateway's exception handlers still apply)."""
