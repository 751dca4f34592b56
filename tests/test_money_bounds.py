"""Money past the balance ceiling is refused everywhere it can enter: ``parse_usd``, the operator
service, the ``credit`` CLI (one clean line, exit 1) and the admin API (a 400, balance unchanged)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opencompress.accounts import AccountService
from opencompress.accounts.operator import OperatorService
from opencompress.cli import admin as admin_cli
from opencompress.errors import InvalidRequestError
from opencompress.money import (
    MAX_BALANCE_MICROS,
    MAX_CREDIT_MICROS,
    check_credit_micros,
    parse_usd,
)
from opencompress.storage import open_storage
from support.gateway import ADMIN_TOKEN, Gateway, error_of, running_gateway


def test_ceiling_is_far_inside_signed_64_bits() -> None:
    assert MAX_CREDIT_MICROS <= MAX_BALANCE_MICROS
    assert MAX_BALANCE_MICROS + MAX_CREDIT_MICROS < 2**63 - 1


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("100000000000", MAX_CREDIT_MICROS),
        ("99999999999.999999", MAX_CREDIT_MICROS - 1),
        (" 10.50 ", 10_500_000),
    ],
)
def test_parse_usd_accepts_up_to_the_maximum(text: str, micros: int) -> None:
    assert parse_usd(text) == micros


@pytest.mark.parametrize("text", ["100000000000.000001", "9000000000000", "99999999999999999999"])
def test_parse_usd_refuses_above_the_maximum(text: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_usd(text, param="amount_usd")
    assert info.value.code == "amount_too_large" and info.value.param == "amount_usd"
    assert "$100000000000.000000" in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "1.0000000000000000000000000001",
        "1e-7",
        "-1",
        "NaN",
        "ten",
        "10_00",
        "１０",
        "٣",
        "+5",
        "1e3",
        "1,000",
        "5.",
    ],
)
def test_parse_usd_still_refuses_malformed_amounts(text: str) -> None:
    # Past 28 digits Decimal arithmetic would round the 7th decimal away; the check uses the digits.
    with pytest.raises(ValueError):
        parse_usd(text)


@pytest.mark.parametrize("micros", [0, -1, MAX_CREDIT_MICROS + 1, 2**64])
def test_check_credit_micros_range(micros: int) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_credit_micros(micros, param="amount_micros")
    assert info.value.param == "amount_micros"
    assert check_credit_micros(MAX_CREDIT_MICROS) == MAX_CREDIT_MICROS


def test_operator_refuses_oversize_initial_credit_before_creating_the_account(tmp_path: Path) -> None:
    async def main() -> int:
        storage = open_storage(f"sqlite:///{tmp_path / 'op.db'}")
        try:
            await storage.migrate()
            with pytest.raises(InvalidRequestError) as info:
                await OperatorService(AccountService(storage)).create_account(
                    "huge", initial_credit_micros=MAX_CREDIT_MICROS + 1
                )
            assert info.value.param == "initial_credit"
            return await storage.count_accounts()
        finally:
            await storage.close()

    assert asyncio.run(main()) == 0


# CLI


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    app = typer.Typer()
    admin_cli.register(app)
    env = {
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_cli_credit_overflow_is_one_clean_line(tmp_path: Path) -> None:
    code, out = _cli(tmp_path, "accounts", "create", "acme")
    assert code == 0
    account = out.strip().splitlines()[-1]
    assert _cli(tmp_path, "credit", "--account", account, "--usd", "60000000000")[0] == 0
    for usd in ("99999999999999999999", "9000000000000", "60000000000"):
        code, out = _cli(tmp_path, "credit", "--account", account, "--usd", usd)
        assert code == 1 and "Traceback" not in out and "Error" not in out
        assert out.startswith("error: ") and len(out.strip().splitlines()) == 1
        assert "maximum" in out
    code, out = _cli(tmp_path, "accounts", "list")
    assert "$60000000000.000000" in out


# admin API


@pytest.fixture(scope="module")
def console(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("bounds"), simulator.base_url, admin_token=ADMIN_TOKEN
    ) as gw:
        yield gw


def _new_account(console: Gateway) -> str:
    with console.admin() as admin:
        r = admin.post("/admin/accounts", json={"name": "bounds"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"amountMicros": 9_000_000_000_000_000_000}, "amount", "amount_too_large"),
        ({"amount_micros": 10**30}, "amount", "amount_too_large"),
        ({"amountUsd": "99999999999999999999"}, "amountUsd", "amount_too_large"),
    ],
)
def test_admin_credit_too_large_is_400_balance_unchanged(
    console: Gateway, body: dict[str, Any], param: str, code: str
) -> None:
    account = _new_account(console)
    with console.admin() as admin:
        assert admin.post(f"/admin/accounts/{account}/credit", json={"amountMicros": 7}).status_code == 200
        err = error_of(admin.post(f"/admin/accounts/{account}/credit", json=body), 400)
    assert (err["type"], err["code"], err["param"]) == ("invalid_request_error", code, param)
    assert console.balance(account) == 7


def test_admin_two_credits_crossing_the_ceiling(console: Gateway) -> None:
    account = _new_account(console)
    big = 6 * 10**16
    with console.admin() as admin:
        url = f"/admin/accounts/{account}/credit"
        assert admin.post(url, json={"amountMicros": big}).json()["balanceMicros"] == big
        err = error_of(admin.post(url, json={"amountMicros": big}), 400)
        assert err["code"] == "balance_limit_exceeded" and "maximum balance" in err["message"]
        r = admin.post(url, json={"amountMicros": 1})
        assert r.status_code == 200 and r.json()["balanceMicros"] == big + 1
    assert console.balance(account) == big + 1


def test_admin_oversize_initial_credit_creates_nothing(console: Gateway) -> None:
    with console.admin() as admin:
        before = len(admin.get("/admin/accounts").json()["data"])
        r = admin.post("/admin/accounts", json={"name": "huge", "initialCreditMicros": 10**19})
        assert error_of(r, 400)["param"] == "initial_credit"
        assert len(admin.get("/admin/accounts").json()["data"]) == before
