"""SQLite settles that finish in one loop iteration share a transaction (sqlite_settle_batch.py).

What must hold: every charge is still exact and written once; a charge that fails does not take
the others of its group down with it; and a caller that stops waiting does not stop its charge.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from opencompress.errors import NotFoundError
from opencompress.storage import SqliteStorage
from support.records import funded_key, usage_for


def test_concurrent_settles_share_a_commit_and_each_is_charged_once(tmp_path: Path) -> None:
    storage = SqliteStorage(str(tmp_path / "gw.db"))

    async def main() -> None:
        key = await funded_key(storage, 10_000)
        ids = [f"r{i}" for i in range(20)]
        for request_id in ids:
            assert await storage.reserve(key.account_id, request_id, 100, ttl_s=60) == 100
        # 20 charges of 600 against 10,000: the balance runs out part-way through the group
        results = await asyncio.gather(*(storage.settle(usage_for(key, rid, 600)) for rid in ids))
        assert storage._batcher.largest_group == 20
        assert [r.charged_micros for r in results] == [600] * 16 + [400, 0, 0, 0]
        assert [r.balance_after_micros for r in results][-5:] == [400, 0, 0, 0, 0]
        account = await storage.get_account(key.account_id)
        assert account is not None and account.balance_micros == 0
        rows = await storage.list_usage(key.account_id, limit=100)
        assert sorted(u.request_id for u in rows) == sorted(ids)
        ledger = await storage.list_ledger(key.account_id, limit=100)
        assert sum(e.amount_micros for e in ledger) == 0 and len(ledger) == 1 + 17
        assert await storage.reserve(key.account_id, "after", 1, ttl_s=60) == 0  # no hold lingers
        again = await asyncio.gather(*(storage.settle(usage_for(key, rid, 1)) for rid in ids[:3]))
        assert all(r.duplicate for r in again) and [r.charged_micros for r in again] == [600] * 3
        await storage.close()

    asyncio.run(main())


def test_a_failing_charge_fails_alone(tmp_path: Path) -> None:
    storage = SqliteStorage(str(tmp_path / "gw.db"))

    async def main() -> None:
        key = await funded_key(storage, 10_000)
        stranger = replace(usage_for(key, "bad", 5), account_id="acct_missing")
        outcomes = await asyncio.gather(
            storage.settle(usage_for(key, "good-1", 100)),
            storage.settle(stranger),
            storage.settle(usage_for(key, "good-2", 200)),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], NotFoundError)
        assert [o.charged_micros for o in (outcomes[0], outcomes[2])] == [100, 200]  # type: ignore[union-attr]
        account = await storage.get_account(key.account_id)
        assert account is not None and account.balance_micros == 9_700
        assert sorted(u.request_id for u in await storage.list_usage(key.account_id)) == ["good-1", "good-2"]
        with pytest.raises(NotFoundError):  # alone, the error reaches its caller directly
            await storage.settle(stranger)
        await storage.close()

    asyncio.run(main())


def test_a_cancelled_caller_is_still_charged_and_its_hold_released(tmp_path: Path) -> None:
    storage = SqliteStorage(str(tmp_path / "gw.db"))

    async def main() -> None:
        key = await funded_key(storage, 1_000)
        assert await storage.reserve(key.account_id, "gone", 1_000, ttl_s=900) == 1_000
        waiting = asyncio.ensure_future(storage.settle(usage_for(key, "gone", 300)))
        await asyncio.sleep(0)  # queued for this iteration's group
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0)
        stored = await storage.get_usage("gone")
        assert stored is not None and stored.charged_micros == 300
        assert await storage.reserve(key.account_id, "next", 5_000, ttl_s=60) == 700
        await storage.close()

    asyncio.run(main())


def test_closing_writes_charges_still_queued(tmp_path: Path) -> None:
    db = str(tmp_path / "gw.db")

    async def main() -> None:
        storage = SqliteStorage(db)
        key = await funded_key(storage, 1_000)
        queued = asyncio.ensure_future(storage.settle(usage_for(key, "last", 250)))
        await asyncio.sleep(0)  # queued; the loop has not flushed it yet
        await storage.close()
        assert (await queued).charged_micros == 250
        reopened = SqliteStorage(db)
        stored = await reopened.get_usage("last")
        assert stored is not None and stored.charged_micros == 250
        await reopened.close()

    asyncio.run(main())
