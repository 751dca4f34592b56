"""SQLite keeps balance holds in the process (storage/process_holds.py).

The storage contract suite already pins what holds do on both backends (idempotent, capped at
what is available, expired ones ignored, consumed by settle). These tests pin what is particular
to holds kept in memory: the bookkeeping itself, and that a balance read which had to leave the
event loop cannot miss a charge that landed while it was away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opencompress.storage import SqliteStorage
from opencompress.storage.process_holds import ProcessHolds
from support.records import funded_key, usage_for


def test_holds_sum_per_account_and_drop_expired_ones() -> None:
    holds = ProcessHolds()
    holds.add("r1", "a", 300, expires_at=100.0)
    holds.add("r2", "a", 200, expires_at=50.0)
    holds.add("r3", "b", 7, expires_at=100.0)
    assert holds.held("a", now=10.0) == 500
    assert holds.held("a", now=60.0) == 300  # r2 expired and is forgotten
    assert holds.get("r2") is None and holds.get("r1") == 300
    holds.pop("r1")
    holds.pop("r1")  # idempotent
    assert holds.held("a", now=60.0) == 0 and holds.held("b", now=60.0) == 7
    holds.pop("r3")
    assert len(holds) == 0 and holds.held("nobody", now=0.0) == 0


def test_a_charge_landing_during_an_off_loop_balance_read_is_not_double_spent(tmp_path: Path) -> None:
    """The worst interleaving, forced: the read sees the balance *before* another request's
    charge, and that request's settle (commit + dropping its hold) finishes before the read's
    result comes back. Counting neither the hold nor the charge would admit money already spent."""
    storage = SqliteStorage(str(tmp_path / "gw.db"))

    async def main() -> None:
        key = await funded_key(storage, 1_000)
        assert await storage.reserve(key.account_id, "first", 600, ttl_s=60) == 600
        real_short = storage._short

        async def stale_read_then_settle(fn: Callable[[Any], Any]) -> Any:
            value = await real_short(fn)  # the balance before "first" is charged: 1,000
            storage._short = real_short  # type: ignore[method-assign]
            await storage.settle(usage_for(key, "first", 600))  # commits, drops the hold
            return value

        storage._short = stale_read_then_settle  # type: ignore[method-assign]
        second = await storage.reserve(key.account_id, "second", 1_000, ttl_s=60)
        assert second == 400  # what is really left; a naive check would hold 1,000
        account = await storage.get_account(key.account_id)
        assert account is not None and account.balance_micros == 400
        await storage.close()

    asyncio.run(main())


def test_holds_end_with_the_process(tmp_path: Path) -> None:
    """A new storage (a restarted gateway) starts with nothing held: nothing to wait out."""
    db = str(tmp_path / "gw.db")

    async def main() -> None:
        first = SqliteStorage(db)
        key = await funded_key(first, 1_000)
        assert await first.reserve(key.account_id, "r1", 1_000, ttl_s=900) == 1_000
        assert await first.reserve(key.account_id, "r2", 1, ttl_s=900) == 0
        await first.close()
        second = SqliteStorage(db)
        await second.migrate()
        assert await second.reserve(key.account_id, "r2", 1, ttl_s=900) == 1
        await second.close()

    asyncio.run(main())
