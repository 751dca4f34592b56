"""AccountService: accounts, the key lifecycle, authentication, credit and the dev-mode demo."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opencompress.accounts import DEMO_CREDIT_MICROS, AccountService, hash_key
from opencompress.errors import AuthError, ConflictError, InvalidRequestError, NotFoundError
from opencompress.storage import open_storage

T = TypeVar("T")


def run(tmp_path: Path, body: Callable[[AccountService], Awaitable[T]]) -> T:
    async def main() -> T:
        storage = open_storage(f"sqlite:///{tmp_path / 'acc.db'}")
        await storage.migrate()
        try:
            return await body(AccountService(storage))
        finally:
            await storage.close()

    return asyncio.run(main())


def test_create_key_returns_the_full_key_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        account = await svc.create_account("acme", email="Ops@Example.com")
        assert account.email == "ops@example.com"
        key, full = await svc.create_key(
            account.id, name="laptop", mode="byok", rpm_limit=5, concurrency_limit=2
        )
        assert full.startswith("sk-occ-") and key.prefix == full[:15]
        assert (key.mode, key.rpm_limit, key.concurrency_limit, key.is_active) == ("byok", 5, 2, True)
        assert await svc.storage.get_key_by_hash(hash_key(full)) == key
        listed = await svc.list_keys(account.id)
        assert listed == [key]
        assert full not in repr(listed)

    run(tmp_path, body)


def test_authenticate(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        account = await svc.create_account("acme")
        key, full = await svc.create_key(account.id)
        assert await svc.authenticate(full) == key
        failures = {
            None: "missing_api_key",
            "": "missing_api_key",
            "Bearer nonsense": "invalid_api_key",
            "sk-occ-" + "x" * 43: "invalid_api_key",
        }
        for raw, code in failures.items():
            with pytest.raises(AuthError) as caught:
                await svc.authenticate(raw)
            assert caught.value.code == code
            assert raw is None or raw == "" or raw not in caught.value.message
        revoked = await svc.revoke_key(key.id)
        assert revoked.is_active is False
        with pytest.raises(AuthError) as caught:
            await svc.authenticate(full)
        assert caught.value.code == "revoked_api_key" and full not in caught.value.message

    run(tmp_path, body)


def test_revoke_is_idempotent_and_owner_scoped(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        mine = await svc.create_account("mine")
        theirs = await svc.create_account("theirs")
        key, _ = await svc.create_key(mine.id)
        with pytest.raises(NotFoundError):
            await svc.revoke_key(key.id, account_id=theirs.id)
        assert (await svc.revoke_key(key.id, account_id=mine.id)).is_active is False
        assert (await svc.revoke_key(key.id)).is_active is False
        with pytest.raises(NotFoundError):
            await svc.revoke_key("key_missing")

    run(tmp_path, body)


def test_key_validation_and_active_limit(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        account = await svc.create_account("acme")
        bad_calls = [
            {"mode": "proxy"},
            {"name": "   "},
            {"name": "x" * 201},
            {"rpm_limit": 0},
            {"concurrency_limit": -1},
            {"compression_level": "extreme"},
        ]
        for kwargs in bad_calls:
            with pytest.raises(InvalidRequestError):
                await svc.create_key(account.id, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(NotFoundError):
            await svc.create_key("acct_missing")
        with pytest.raises(NotFoundError):
            await svc.list_keys("acct_missing")
        keys = [await svc.create_key(account.id, name=f"k{i}") for i in range(5)]
        with pytest.raises(InvalidRequestError, match="at most 5 active keys"):
            await svc.create_key(account.id, name="sixth")
        await svc.revoke_key(keys[0][0].id)
        await svc.create_key(account.id, name="sixth", compression_level="lossless")

    run(tmp_path, body)


def test_accounts_and_credit(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        account = await svc.create_account(" acme ", email="a@example.com")
        assert account.name == "acme"
        with pytest.raises(ConflictError):
            await svc.create_account("again", email="A@example.com")
        with pytest.raises(InvalidRequestError):
            await svc.create_account("bad", email="not-an-email")
        assert await svc.credit(account.id, "10.00", reason="invoice 7") == 10_000_000
        assert await svc.credit(account.id, "0.000001") == 10_000_001
        for bad in ("0", "-1", "abc", "1.0000001", "nan"):
            with pytest.raises(InvalidRequestError):
                await svc.credit(account.id, bad)
        with pytest.raises(NotFoundError):
            await svc.credit("acct_missing", "1")
        with pytest.raises(NotFoundError):
            await svc.get_account("acct_missing")
        ledger = await svc.storage.list_ledger(account.id)
        assert [e.reason for e in ledger] == ["credit", "invoice 7"]
        assert [a.id for a in await svc.list_accounts()] == [account.id]

    run(tmp_path, body)


def test_demo_account_only_on_an_empty_database(tmp_path: Path) -> None:
    async def body(svc: AccountService) -> None:
        full = await svc.ensure_demo_account()
        assert full is not None
        key = await svc.authenticate(full)
        account = await svc.get_account(key.account_id)
        assert (account.name, account.balance_micros) == ("demo", DEMO_CREDIT_MICROS)
        assert await svc.ensure_demo_account() is None
        assert len(await svc.list_accounts()) == 1

    run(tmp_path, body)
