"""Storage contract for ``create_first_account`` (the dev-mode demo account), on every backend."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from opencompress.errors import InvalidRequestError
from opencompress.storage import Account, Storage, open_storage

UseStorage = Callable[[Callable[[Storage], Awaitable[None]]], None]

CREDIT = 5_000_000


async def _seed(storage: Storage, tag: str) -> Account | None:
    return await storage.create_first_account(
        "demo",
        credit_micros=CREDIT,
        reason="demo credit",
        key_name="demo",
        key_hash=f"hash-{tag}",
        prefix="sk-occ-abcdefgh",
        mode="router",
    )


def test_first_account_comes_with_its_credit_and_key_and_only_once(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        with pytest.raises(InvalidRequestError):
            await storage.create_first_account(
                "demo", credit_micros=0, reason="r", key_name="k", key_hash="h0", prefix="p", mode="router"
            )
        assert await storage.count_accounts() == 0

        account = await _seed(storage, "one")
        assert account is not None and account.balance_micros == CREDIT
        assert await storage.get_account(account.id) == account
        key = await storage.get_key_by_hash("hash-one")
        assert key is not None and key.account_id == account.id and key.mode == "router" and key.is_active
        ledger = await storage.list_ledger(account.id)
        assert [(e.amount_micros, e.reason) for e in ledger] == [(CREDIT, "demo credit")]

        assert await _seed(storage, "two") is None
        assert await storage.get_key_by_hash("hash-two") is None
        assert await storage.count_accounts() == 1

    use_storage(body)


def test_first_account_is_not_made_when_any_account_exists(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        existing = await storage.create_account("someone")
        assert await _seed(storage, "late") is None
        assert [a.id for a in await storage.list_accounts()] == [existing.id]
        assert await storage.get_key_by_hash("hash-late") is None

    use_storage(body)


def test_replicas_starting_together_make_one_first_account(storage_url: str) -> None:
    """Each replica is its own storage in its own thread and loop, released at once by a barrier:
    the emptiness check and the inserts must be one serialised transaction, or several win."""
    replicas = 6
    barrier = threading.Barrier(replicas)
    results: list[Account | None] = []
    errors: list[BaseException] = []

    async def replica(tag: str) -> Account | None:
        storage = open_storage(storage_url)
        try:
            await storage.migrate()
            await storage.ping()
            barrier.wait(timeout=30)
            return await _seed(storage, tag)
        finally:
            await storage.close()

    def run(tag: str) -> None:
        try:
            results.append(asyncio.run(replica(tag)))
        except BaseException as exc:  # reported below; a thread cannot raise to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"r{i}",)) for i in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    made = [account for account in results if account is not None]
    assert len(results) == replicas and len(made) == 1

    async def check() -> None:
        storage = open_storage(storage_url)
        try:
            accounts = await storage.list_accounts()
            assert [a.id for a in accounts] == [made[0].id] and accounts[0].balance_micros == CREDIT
            assert len(await storage.list_keys(made[0].id)) == 1
        finally:
            await storage.close()

    asyncio.run(check())
