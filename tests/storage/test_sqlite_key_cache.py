"""SQLite remembers keys found by hash, and a revocation still counts from the very next lookup.

Whoever revokes: this process inline, this process on its worker thread, another process (the CLI
is another connection to the same file), or someone editing the file with plain SQL.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from opencompress.storage import SqliteStorage
from support.records import funded_key


async def _cached_and_revoked_by(path: Path, revoke: str) -> tuple[bool, int]:
    gateway = SqliteStorage(str(path))
    try:
        key = await funded_key(gateway, 1_000)
        first = await gateway.get_key_by_hash("h")
        selects: list[str] = []
        conn = gateway._inline_conn()
        assert conn is not None
        conn.set_trace_callback(selects.append)
        again = await gateway.get_key_by_hash("h")
        reads = sum("FROM api_keys" in sql for sql in selects)
        assert first == again and again is not None and again.is_active
        if revoke == "inline":
            assert await gateway.revoke_key(key.id)
        elif revoke == "other process":
            cli = SqliteStorage(str(path))
            try:
                assert await cli.revoke_key(key.id)
            finally:
                await cli.close()
        else:  # plain SQL from outside
            outside = sqlite3.connect(path, isolation_level=None)
            outside.execute("UPDATE api_keys SET is_active = FALSE WHERE id = ?", (key.id,))
            outside.close()
        after = await gateway.get_key_by_hash("h")
        assert after is not None
        return after.is_active, reads
    finally:
        await gateway.close()


def test_a_found_key_is_not_read_again_while_nothing_changed(tmp_path: Path) -> None:
    _, reads = asyncio.run(_cached_and_revoked_by(tmp_path / "g.db", "inline"))
    assert reads == 0


def test_revocation_counts_at_once_whoever_revokes(tmp_path: Path) -> None:
    for i, who in enumerate(("inline", "other process", "plain sql")):
        active, _ = asyncio.run(_cached_and_revoked_by(tmp_path / f"g{i}.db", who))
        assert active is False, who


def test_a_revocation_on_the_worker_thread_counts_at_once(tmp_path: Path) -> None:
    async def go() -> bool:
        storage = SqliteStorage(str(tmp_path / "w.db"))
        try:
            key = await funded_key(storage, 1_000)
            assert (await storage.get_key_by_hash("h")) is not None
            await storage._run(
                lambda conn: conn.execute("UPDATE api_keys SET is_active = FALSE WHERE id = ?", (key.id,))
            )
            after = await storage.get_key_by_hash("h")
            assert after is not None
            return after.is_active
        finally:
            await storage.close()

    assert asyncio.run(go()) is False
