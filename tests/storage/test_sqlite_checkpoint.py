"""WAL checkpoints run on their own thread, and closing leaves an empty WAL behind."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from opencompress.storage import open_storage
from opencompress.storage.sqlite_checkpoint import WalCheckpointer


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


def _wal_under_steady_writes(db: Path, restart_bytes: int) -> tuple[int, int, int]:
    """Commit ~1 KiB rows until 3 MiB are written (or 10 s pass) with the checkpointer running;
    (written, WAL size, restarts). A fixed volume, not a fixed time: on a loaded machine a short
    run writes too little for the WAL's plateau to show against the total."""
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA synchronous=NORMAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    checkpointer = WalCheckpointer(str(db), interval_s=0.02, restart_bytes=restart_bytes)
    checkpointer.start()
    written = 0
    try:
        deadline = time.monotonic() + 10
        while written < 3 * 1024 * 1024 and time.monotonic() < deadline:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO t (v) VALUES (?)", (b"x" * 1024,))
            writer.execute("COMMIT")
            written += 1024
            time.sleep(0.0003)  # the rest of a request's work
    finally:
        checkpointer.stop()
    size = Path(f"{db}-wal").stat().st_size
    writer.close()
    return written, size, checkpointer.restarts


def test_the_wal_starts_over_under_steady_writes(tmp_path: Path) -> None:
    written, size, restarts = _wal_under_steady_writes(tmp_path / "steady.db", restart_bytes=256 * 1024)
    assert restarts >= 3
    assert size < written / 2  # each commit also rewrites index/interior pages: unbounded would be > written
