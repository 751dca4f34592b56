"""Operator endpoints (admin token only): ``/admin/accounts``, credit, email, password."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opencompress.accounts.present import account_json, money
from opencompress.errors import InvalidRequestError
from opencompress.http.auth import context, require_admin
from opencompress.http.routes._params import json_body, opt_int, opt_str, pick, respond
from opencompress.money import parse_usd

MAX_REASON = 200


def amount_micros(body: dict[str, Any], prefix: str, *, required: bool) -> int | None:
    """``{prefix}_usd`` (a decimal string such as ``"10.00"``) or ``{prefix}_micros`` (an integer),
    camelCase accepted; floats are refused because money is never a float here."""
    camel = prefix.split("_")[0] + "".join(p.title() for p in prefix.split("_")[1:])
    usd_name, usd_value = pick(body, f"{prefix}_usd", f"{camel}Usd")
    micros = opt_int(body, f"{prefix}_micros", f"{camel}Micros")
    if usd_value is not None and micros is not None:
        raise InvalidRequestError(f"Send {prefix}_usd or {prefix}_micros, not both.", param=usd_name)
    if usd_value is not None:
        if isinstance(usd_value, bool) or not isinstance(usd_value, str | int):
            raise InvalidRequestError(
                f'{usd_name} must be a decimal string such as "10.00".', code="invalid_type", param=usd_name
            )
        try:
            return parse_usd(str(usd_value), param=usd_name)
        except ValueError:
            raise InvalidRequestError(
                f'{usd_name} must be dollars with at most 6 decimals, such as "10.00".', param=usd_name
            ) from None
    if micros is None and required:
        raise InvalidRequestError(f"Send {prefix}_usd or {prefix}_micros.", param=f"{prefix}_usd")
    return micros


def _reason(body: dict[str, Any], default: str) -> str:
    reason = opt_str(body, "reason")
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidRequestError(f"reason must be at most {MAX_REASON} characters.", param="reason")
    return (reason or "").strip() or default


async def create_account(request: Request) -> JSONResponse:
    await require_admin(request)
    body = await json_body(
        request,
        allowed={
            "name",
            "email",
            "password",
            "initial_credit_usd",
            "initial_credit_micros",
            "initialCreditUsd",
            "initialCreditMicros",
            "reason",
        },
    )
    name = opt_str(body, "name")
    if name is None:
        raise InvalidRequestError(
            "Missing required field 'name'.", code="missing_required_parameter", param="name"
        )
    credit = amount_micros(body, "initial_credit", required=False) or 0
    account = await context(request).operator.create_account(
        name,
        email=opt_str(body, "email"),
        password=opt_str(body, "password"),
        initial_credit_micros=credit,
        credit_reason=_reason(body, "initial credit"),
    )
    return respond(account_json(account), status=201)


async def list_accounts(request: Request) -> JSONResponse:
    await require_admin(request)
    accounts = await context(request).accounts.list_accounts()
    return respond({"object": "list", "data": [account_json(a) for a in accounts]})


async def credit(request: Request) -> JSONResponse:
    await require_admin(request)
    account_id = request.path_params["account_id"]
    body = await json_body(
        request, allowed={"amount_usd", "amount_micros", "amountUsd", "amountMicros", "reason"}
    )
    micros = amount_micros(body, "amount", required=True)
    assert micros is not None
    if micros <= 0:
        raise InvalidRequestError("The credit amount must be positive.", param="amount_usd")
    balance = await context(request).operator.credit(account_id, micros, _reason(body, "credit"))
    return respond({"accountId": account_id, **money("credited", micros), **money("balance", balance)})


async def set_email(request: Request) -> JSONResponse:
    """Give an existing account a sign-in email (400 invalid, 404 unknown account, 409 taken);
    answers with the account as stored."""
    await require_admin(request)
    body = await json_body(request, allowed={"email"})
    email = opt_str(body, "email")
    if email is None:
        raise InvalidRequestError(
            "Missing required field 'email'.", code="missing_required_parameter", param="email"
        )
    account = await context(request).accounts.set_email(request.path_params["account_id"], email)
    return respond(account_json(account))


async def set_password(request: Request) -> Response:
    await require_admin(request)
    body = await json_body(request, allowed={"password"})
    password = opt_str(body, "password")
    if password is None:
        raise InvalidRequestError("Missing required field 'password'.", param="password")
    await context(request).operator.set_password(request.path_params["account_id"], password)
    return Response(status_code=204)


routes = [
    Route("/admin/accounts", create_account, methods=["POST"]),
    Route("/admin/accounts", list_accounts, methods=["GET"]),
    Route("/admin/accounts/{account_id}/credit", credit, methods=["POST"]),
    Route("/admin/accounts/{account_id}/email", set_email, methods=["POST"]),
    Route("/admin/accounts/{account_id}/password", set_password, methods=["POST"]),
]
