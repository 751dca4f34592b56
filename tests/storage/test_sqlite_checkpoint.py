"""WAL checkpoints run on their own thread, and closing leaves an empty WAL behind."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from opencompress.storage import open_storage


def test_checkpoints_off_the_storage_thread_and_wal_truncated_on_close(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    before = set(threading.enumerate())
    ours: list[threading.Thread] = []

    async def main() -> None:
        storage = open_storage(f"sqlite:///{db}")
        await storage.migrate()
        ours.extend(
            t for t in threading.enumerate() if t not in before and t.name == "opencompress-sqlite-checkpoint"
        )
        assert len(ours) == 1
        account = await storage.create_account("a")
        for i in range(50):
            await storage.credit(account.id, 1_000 + i, "load")
        assert Path(f"{db}-wal").stat().st_size > 0
        await storage.close()

    asyncio.run(main())
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert not ours[0].is_alive()
