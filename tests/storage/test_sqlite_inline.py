"""SQLite's short calls run inline on the event loop, and a held lock never stalls the loop.

The lock is held the way another process (the CLI, a second replica) would hold it: a separate
``sqlite3`` connection inside ``BEGIN IMMEDIATE``. The loop's own connection then gets SQLITE_BUSY
at once and the storage re-runs the whole transaction on its worker thread, which waits for the
lock; meanwhile other coroutines keep running.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from opencompress.storage import SqliteStorage
from opencompress.storage.base import ApiKey
from support.records import funded_key, usage_for

T = TypeVar("T")
HELD_S = 0.3


@asynccontextmanager
async def funded(path: Path) -> AsyncIterator[tuple[SqliteStorage, ApiKey]]:
    storage = SqliteStorage(str(path))
    try:
        yield storage, await funded_key(storage, 10_000)
    finally:
        await storage.close()


def write_locked(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def while_locked(path: Path, call: Awaitable[T]) -> tuple[T, int, bool]:
    """Run ``call`` while another connection holds the write lock for :data:`HELD_S`.

    Returns its result, how often a ticker coroutine ran meanwhile, and whether ``call`` was still
    pending when the lock was released (it must be: it needs the lock)."""
    holder = write_locked(path)
    ticks = 0
    task = asyncio.ensure_future(call)
    try:
        deadline = time.monotonic() + HELD_S
        while time.monotonic() < deadline:
            await asyncio.sleep(0.005)
            ticks += 1
        pending = not task.done()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    return await asyncio.wait_for(task, 5), ticks, pending


def test_settle_waits_for_a_held_lock_without_blocking_the_loop(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"

    async def main() -> None:
        async with funded(db) as (storage, key):
            before = storage.inline_fallbacks
            # the balance check only reads, and WAL readers never wait for a writer
            holder = write_locked(db)
            try:
                held = await asyncio.wait_for(storage.reserve(key.account_id, "r1", 700, ttl_s=60), 0.05)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert held == 700 and storage.inline_fallbacks == before

            settled, ticks, pending = await while_locked(db, storage.settle(usage_for(key, "r1", 400)))
            assert pending and ticks >= HELD_S / 0.005 / 3  # the loop kept running while the lock was held
            assert settled.charged_micros == 400 and settled.balance_after_micros == 9_600
            assert storage.inline_fallbacks == before + 1

            account = await storage.get_account(key.account_id)
            assert account is not None and account.balance_micros == 9_600
            assert [u.request_id for u in await storage.list_usage(key.account_id)] == ["r1"]
            ledger = await storage.list_ledger(key.account_id)
            assert [e.amount_micros for e in ledger] == [-400, 10_000]
            # the hold was consumed by settle: all of the balance is available again
            assert await storage.reserve(key.account_id, "r2", 50_000, ttl_s=60) == 9_600

    asyncio.run(main())


def test_key_lookup_runs_inline_while_the_worker_thread_waits_for_a_lock(tmp_path: Path) -> None:
    """A worker-thread call would queue behind the blocked credit; an inline one answers at once."""
    db = tmp_path / "gw.db"

    async def main() -> None:
        async with funded(db) as (storage, key):
            holder = write_locked(db)
            try:
                credit = asyncio.ensure_future(storage.credit(key.account_id, 5, "late"))
                await asyncio.sleep(0.05)  # the credit met the lock and now waits on the worker thread
                assert not credit.done()
                found = await asyncio.wait_for(storage.get_key_by_hash("h"), HELD_S / 2)
                assert found is not None and found.id == key.id
                assert not credit.done()
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert await asyncio.wait_for(credit, 5) == 10_005

    asyncio.run(main())


def test_inline_calls_do_not_suspend(tmp_path: Path) -> None:
    """Driven by hand, an uncontended key lookup or hold finishes on its first step: it never
    awaited. Settling is queued for the end of the loop iteration but also stays on the loop."""
    db = tmp_path / "gw.db"

    def first_step(make: Callable[[], Awaitable[T]]) -> T:
        coro = make().__await__()
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        coro.close()
        raise AssertionError("the call suspended (it went through the worker thread)")

    async def main() -> None:
        async with funded(db) as (storage, key):
            assert first_step(lambda: storage.get_key_by_hash("h")) == key
            assert first_step(lambda: storage.reserve(key.account_id, "r1", 100, ttl_s=60)) == 100
            # settle waits for the end of the loop iteration (group commit), still without the worker
            real_run = storage._run

            async def no_worker(fn: object) -> object:
                raise AssertionError("settle went through the worker thread")

            storage._run = no_worker  # type: ignore[assignment,method-assign]
            settled = await storage.settle(usage_for(key, "r1", 60))
            storage._run = real_run  # type: ignore[method-assign]
            assert settled.charged_micros == 60 and settled.balance_after_micros == 9_940

    asyncio.run(main())


def test_a_write_that_meets_a_lock_half_way_rolls_back_before_the_retry(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    attempts: list[str] = []

    def flaky(account_id: str, conn: sqlite3.Connection) -> int:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE accounts SET balance_micros = balance_micros + 1 WHERE id = ?", (account_id,))
        attempts.append("inline" if not attempts else "worker")
        if len(attempts) == 1:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
            raise busy
        conn.execute("COMMIT")
        return len(attempts)

    async def main() -> None:
        async with funded(db) as (storage, key):
            assert await storage._short(lambda conn: flaky(key.account_id, conn)) == 2
            account = await storage.get_account(key.account_id)
            assert account is not None and account.balance_micros == 10_001  # once, not twice

    asyncio.run(main())
    assert attempts == ["inline", "worker"]


def test_memory_database_keeps_everything_on_its_one_connection() -> None:
    async def main() -> None:
        storage = SqliteStorage(":memory:")
        try:
            await storage.migrate()
            account = await storage.create_account("m")
            await storage.credit(account.id, 1_000, "funds")
            key = await storage.create_key(
                account_id=account.id, name="k", mode="router", key_hash="mh", prefix="sk-occ-mh"
            )
            assert await storage.get_key_by_hash("mh") == key
            assert await storage.reserve(account.id, "r", 300, ttl_s=60) == 300
            assert (await storage.settle(usage_for(key, "r", 200))).balance_after_micros == 800
        finally:
            await storage.close()

    asyncio.run(main())
