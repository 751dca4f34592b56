"""Balance and usage history of the caller's account: JSON pages, summaries, one request, CSV."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from opencompress.accounts.present import money, usage_json
from opencompress.accounts.usage import DEFAULT_PAGE, UsageQuery, parse_time
from opencompress.accounts.usage_csv import csv_lines
from opencompress.http.auth import context, require_account
from opencompress.http.routes._params import NO_STORE, query_int, respond


def _query(request: Request) -> UsageQuery:
    params = request.query_params
    return UsageQuery(
        since=parse_time(params.get("from"), param="from"),
        until=parse_time(params.get("to"), param="to", end_of_day=True),
        key_id=params.get("key_id") or None,
        model=params.get("model") or None,
    )


async def _account_id(request: Request) -> str:
    caller = await require_account(request)
    assert caller.account_id is not None
    return caller.account_id


async def balance(request: Request) -> JSONResponse:
    result = await context(request).usage.balance(await _account_id(request))
    return respond(
        {
            "accountId": result.account.id,
            **money("balance", result.account.balance_micros),
            "lowBalance": result.low,
            **money("lowBalanceThreshold", result.threshold_micros),
        }
    )


async def usage(request: Request) -> Response:
    account_id = await _account_id(request)
    if request.query_params.get("format", "json") == "csv":
        return _csv(request, account_id)
    page = await context(request).usage.page(
        account_id,
        _query(request),
        cursor=request.query_params.get("cursor") or None,
        limit=query_int(request, "limit", DEFAULT_PAGE),
    )
    return respond(
        {
            "object": "list",
            "data": [usage_json(row) for row in page.rows],
            "nextCursor": page.next_cursor,
            "hasMore": page.next_cursor is not None,
        }
    )


async def usage_csv(request: Request) -> Response:
    return _csv(request, await _account_id(request))


def _csv(request: Request, account_id: str) -> Response:
    rows = context(request).usage.export(account_id, _query(request))
    return StreamingResponse(
        (line.encode("utf-8") async for line in csv_lines(rows)),
        media_type="text/csv; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": 'attachment; filename="opencompress-usage.csv"'},
    )


async def summary(request: Request) -> JSONResponse:
    account_id = await _account_id(request)
    result = await context(request).usage.summary(
        account_id, _query(request), group=request.query_params.get("group", "day")
    )
    return respond(
        {
            "group": result.group,
            "data": [bucket.to_json() for bucket in result.buckets],
            "totals": result.total.to_json(),
        }
    )


async def one_request(request: Request) -> JSONResponse:
    account_id = await _account_id(request)
    row = await context(request).usage.get(account_id, request.path_params["request_id"])
    return respond(usage_json(row))


routes = [
    Route("/api/balance", balance, methods=["GET"]),
    Route("/api/usage", usage, methods=["GET"]),
    Route("/api/usage.csv", usage_csv, methods=["GET"]),
    Route("/api/usage/summary", summary, methods=["GET"]),
    Route("/api/usage/{request_id}", one_request, methods=["GET"]),
]
