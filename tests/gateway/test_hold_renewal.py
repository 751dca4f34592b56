"""The heartbeat that keeps in-flight requests' balance holds alive (and lets the others lapse)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from opencompress.gateway.holds import HoldRenewer
from opencompress.storage import SqliteStorage

TTL_S = 0.3


def test_a_tracked_request_keeps_its_hold_past_the_ttl_and_a_forgotten_one_lapses(tmp_path: Path) -> None:
    async def body() -> None:
        storage = SqliteStorage(str(tmp_path / "holds.db"))
        await storage.migrate()
        try:
            account = await storage.create_account("a")
            await storage.credit(account.id, 1_000, "test funds")
            renewer = HoldRenewer(storage, ttl_s=TTL_S, interval_s=TTL_S / 4)
            renewer.start()
            assert await storage.reserve(account.id, "running", 600, ttl_s=TTL_S) == 600
            renewer.track("running")
            assert await storage.reserve(account.id, "crashed", 400, ttl_s=TTL_S) == 400  # never tracked
            await asyncio.sleep(TTL_S * 2)
            assert await storage.reserve(account.id, "probe", 1_000, ttl_s=0.01) == 400, (
                "the running request's hold must still count; the untracked one must have lapsed"
            )
            renewer.forget("running")
            await asyncio.sleep(TTL_S * 1.5)
            assert await storage.reserve(account.id, "after", 1_000, ttl_s=60) == 1_000
            await renewer.stop()
        finally:
            await storage.close()

    asyncio.run(body())
