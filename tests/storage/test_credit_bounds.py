"""Credits stay exact 64-bit integers on every backend: the ceiling is enforced inside the credit
transaction, a refused credit writes nothing, and concurrent credits cannot jointly cross it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from opencompress.errors import InvalidRequestError, NotFoundError
from opencompress.money import MAX_BALANCE_MICROS, MAX_CREDIT_MICROS
from opencompress.storage import Storage, open_storage

UseStorage = Callable[[Callable[[Storage], Awaitable[None]]], None]


async def balance_and_ledger(storage: Storage, account_id: str) -> tuple[int, list[int]]:
    account = await storage.get_account(account_id)
    assert account is not None
    entries = await storage.list_ledger(account_id, limit=1000)
    return account.balance_micros, sorted(e.amount_micros for e in entries)


def test_credit_up_to_the_ceiling_then_one_micro_more_is_refused(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("rich")
        assert await storage.credit(account.id, MAX_BALANCE_MICROS - 1, "almost") == MAX_BALANCE_MICROS - 1
        assert await storage.credit(account.id, 1, "exactly") == MAX_BALANCE_MICROS
        with pytest.raises(InvalidRequestError) as info:
            await storage.credit(account.id, 1, "one too many")
        assert info.value.status == 400 and info.value.code == "balance_limit_exceeded"
        assert info.value.param == "amount" and "maximum balance" in info.value.message
        balance, ledger = await balance_and_ledger(storage, account.id)
        assert balance == MAX_BALANCE_MICROS and type(balance) is int
        assert ledger == [1, MAX_BALANCE_MICROS - 1]

    use_storage(body)


def test_two_credits_crossing_the_ceiling_second_is_refused(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("acme")
        big = 6 * 10**16
        assert await storage.credit(account.id, big, "first") == big
        with pytest.raises(InvalidRequestError):
            await storage.credit(account.id, big, "second")
        assert await balance_and_ledger(storage, account.id) == (big, [big])
        # Still exact to the micro afterwards (a float balance would swallow this).
        assert await storage.credit(account.id, 1, "one micro") == big + 1

    use_storage(body)


@pytest.mark.parametrize("amount", [MAX_CREDIT_MICROS + 1, 9 * 10**18, 2**63, 10**30])
def test_oversize_credit_is_a_400_and_writes_nothing(use_storage: UseStorage, amount: int) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("acme")
        await storage.credit(account.id, 5, "seed")
        with pytest.raises(InvalidRequestError) as info:
            await storage.credit(account.id, amount, "huge")
        assert info.value.code == "amount_too_large" and info.value.param == "amount"
        assert await balance_and_ledger(storage, account.id) == (5, [5])

    use_storage(body)


def test_unknown_account_is_still_not_found(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        with pytest.raises(NotFoundError):
            await storage.credit("acct_missing", 1, "x")

    use_storage(body)


def test_concurrent_credits_never_jointly_cross_the_ceiling(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("race")
        step = 3 * 10**16  # three fit under the ceiling, a fourth does not

        async def one() -> bool:
            try:
                await storage.credit(account.id, step, "race")
            except InvalidRequestError:
                return False
            return True

        results = await asyncio.gather(*(one() for _ in range(8)))
        assert results.count(True) == 3
        balance, ledger = await balance_and_ledger(storage, account.id)
        assert balance == 3 * step and ledger == [step] * 3

    use_storage(body)


def test_sqlite_balance_column_stays_integer(tmp_path: Path) -> None:
    path = tmp_path / "typeof.db"

    async def main() -> str:
        storage = open_storage(f"sqlite:///{path}")
        try:
            await storage.migrate()
            account = await storage.create_account("acme")
            await storage.credit(account.id, MAX_BALANCE_MICROS - 7, "big")
            for amount in (MAX_BALANCE_MICROS, 9 * 10**18, 8):
                with pytest.raises(InvalidRequestError):
                    await storage.credit(account.id, amount, "refused")
            await storage.credit(account.id, 7, "to the ceiling")
            return account.id
        finally:
            await storage.close()

    account_id = asyncio.run(main())
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT balance_micros, typeof(balance_micros) FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        kinds = {k for (k,) in conn.execute("SELECT DISTINCT typeof(amount_micros) FROM ledger")}
    conn.close()
    assert row == (MAX_BALANCE_MICROS, "integer")
    assert kinds == {"integer"}
