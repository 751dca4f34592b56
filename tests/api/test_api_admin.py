"""Operator endpoints: create/list accounts, credit (to the ledger), set a password."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.storage.base import LedgerEntry
from support.gateway import OWNER_PASSWORD, Gateway, error_of


def ledger(gw: Gateway, account_id: str) -> list[LedgerEntry]:
    async def go(service: Any, storage: Any) -> list[LedgerEntry]:
        return list(await storage.list_ledger(account_id))

    result: list[LedgerEntry] = gw.run(go)
    return result


def test_create_account_with_password_and_initial_credit(console: Gateway) -> None:
    with console.admin() as admin:
        r = admin.post(
            "/admin/accounts",
            json={
                "name": " Acme ",
                "email": "Ops@Acme.example",
                "password": OWNER_PASSWORD,
                "initialCreditUsd": "12.5",
            },
        )
        assert r.status_code == 201, r.text
        account = r.json()
        assert set(account) == {"id", "name", "email", "balanceMicros", "balanceUsd", "createdAt"}
        assert (account["name"], account["email"]) == ("Acme", "ops@acme.example")
        assert (account["balanceMicros"], account["balanceUsd"]) == (12_500_000, "12.500000")
        assert account["createdAt"].endswith("Z") and OWNER_PASSWORD not in r.text
        listed = admin.get("/admin/accounts").json()
        assert listed["object"] == "list" and account in listed["data"]
    entries = ledger(console, account["id"])
    assert [(e.kind, e.amount_micros, e.reason) for e in entries] == [
        ("credit", 12_500_000, "initial credit")
    ]
    with console.sign_in("ops@acme.example", OWNER_PASSWORD) as client:
        assert client.get("/api/me").json()["account"]["id"] == account["id"]


def test_account_without_password_cannot_sign_in(console: Gateway) -> None:
    with console.admin() as admin:
        r = admin.post("/admin/accounts", json={"name": "bare", "email": "bare@example.com"})
        assert r.status_code == 201 and r.json()["balanceMicros"] == 0
    with console.admin() as c:
        c.headers.pop("Authorization")
        r = c.post("/auth/login", json={"email": "bare@example.com", "password": OWNER_PASSWORD})
        assert error_of(r, 401)["code"] == "invalid_credentials"


def test_duplicate_email_is_409(console: Gateway) -> None:
    with console.admin() as admin:
        assert (
            admin.post("/admin/accounts", json={"name": "a", "email": "dup@example.com"}).status_code == 201
        )
        err = error_of(admin.post("/admin/accounts", json={"name": "b", "email": "DUP@example.com"}), 409)
        assert err["type"] == "conflict_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x", "email": "no-at-sign"}, "email"),
        ({"name": "x", "email": "s@example.com", "password": "short"}, "password"),
        ({"name": "x", "password": OWNER_PASSWORD}, "email"),
        ({"name": "x", "initial_credit_usd": 10.5}, "initial_credit_usd"),
        ({"name": "x", "initial_credit_usd": "ten"}, "initial_credit_usd"),
        ({"name": "x", "initial_credit_usd": "1.0000001"}, "initial_credit_usd"),
        ({"name": "x", "initial_credit_usd": "1", "initial_credit_micros": 5}, "initial_credit_usd"),
        ({"name": "x", "initial_credit_micros": 1.5}, "initial_credit_micros"),
        ({"name": "x", "initial_credit_micros": -5}, "initial_credit"),
        ({"name": "x", "nmae": "typo"}, "nmae"),
    ],
)
def test_bad_account_input_is_400_and_creates_nothing(
    console: Gateway, body: dict[str, Any], param: str
) -> None:
    with console.admin() as admin:
        before = len(admin.get("/admin/accounts").json()["data"])
        err = error_of(admin.post("/admin/accounts", json=body), 400)
        assert err["param"] == param and err["type"] == "invalid_request_error"
        assert OWNER_PASSWORD not in err["message"]
        assert len(admin.get("/admin/accounts").json()["data"]) == before


def test_credit_by_usd_or_micros_writes_the_ledger(console: Gateway) -> None:
    account_id = console.seed(usd="0").account_id
    with console.admin() as admin:
        r = admin.post(
            f"/admin/accounts/{account_id}/credit", json={"amount_usd": "10.00", "reason": "invoice 7"}
        )
        assert r.status_code == 200
        assert r.json() == {
            "accountId": account_id,
            "creditedMicros": 10_000_000,
            "creditedUsd": "10.000000",
            "balanceMicros": 10_000_000,
            "balanceUsd": "10.000000",
        }
        r = admin.post(f"/admin/accounts/{account_id}/credit", json={"amountMicros": 1_234})
        assert r.json()["balanceMicros"] == 10_001_234
    entries = ledger(console, account_id)
    assert [(e.kind, e.amount_micros, e.reason) for e in entries] == [
        ("credit", 1_234, "credit"),
        ("credit", 10_000_000, "invoice 7"),
    ]
    assert console.balance(account_id) == 10_001_234


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"amount_usd": "0"},
        {"amount_micros": 0},
        {"amount_micros": -1},
        {"amount_usd": "-1"},
        {"amount_usd": 1.5},
        {"amount_usd": True},
        {"amount_usd": "1", "amountMicros": 1},
        {"amount_usd": "1", "reason": "r" * 201},
        {"amount_usd": "1", "reason": 3},
        {"amount": "1"},
    ],
)
def test_bad_credit_is_400(console: Gateway, body: dict[str, Any]) -> None:
    account_id = console.seed(usd="1.00").account_id
    with console.admin() as admin:
        error_of(admin.post(f"/admin/accounts/{account_id}/credit", json=body), 400)
    assert console.balance(account_id) == 1_000_000


def test_credit_unknown_account_is_404(console: Gateway) -> None:
    with console.admin() as admin:
        r = admin.post("/admin/accounts/acct_missing/credit", json={"amount_usd": "1"})
        assert error_of(r, 404)["type"] == "not_found_error"


def test_set_password_signs_out_existing_sessions(console: Gateway) -> None:
    account_id = console.create_owner(email="pw@example.com", password=OWNER_PASSWORD)
    old = console.sign_in("pw@example.com", OWNER_PASSWORD)
    with console.admin() as admin:
        err = error_of(admin.post(f"/admin/accounts/{account_id}/password", json={"password": "x"}), 400)
        assert err["param"] == "password"
        r = admin.post(f"/admin/accounts/{account_id}/password", json={"password": "a-new-password"})
        assert r.status_code == 204
        assert error_of(admin.post("/admin/accounts/acct_x/password", json={"password": "long-enough"}), 404)
    assert error_of(old.get("/api/me"), 401)["code"] == "invalid_session"
    old.close()
    with console.sign_in("pw@example.com", "a-new-password") as new:
        assert new.get("/api/me").status_code == 200


def test_unknown_route_and_method_keep_the_error_shape(console: Gateway) -> None:
    with console.admin() as admin:
        error_of(admin.get("/admin/nothing-here"), 404)
        error_of(admin.delete("/admin/accounts"), 405)
