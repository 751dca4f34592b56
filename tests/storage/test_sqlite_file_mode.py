"""A SQLite database the gateway creates is owner-only (0600), WAL and shared-memory files too; a
file the operator set up keeps its mode."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from opencompress.storage import open_storage


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def write_and_check(db: Path) -> dict[str, int]:
    """Migrate and write one account, then report the modes while the WAL files still exist."""
    storage = open_storage(f"sqlite:///{db}")
    try:
        await storage.migrate()
        await storage.create_account("owner", email="owner@example.com", password_hash="x")
        return {p.name: mode(p) for p in db.parent.iterdir() if p.name.startswith(db.name)}
    finally:
        await storage.close()


def test_a_new_database_file_is_created_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        db = tmp_path / "sub" / "gw.db"
        modes = asyncio.run(write_and_check(db))
    finally:
        os.umask(old_umask)
    assert modes["gw.db"] == 0o600
    assert modes.get("gw.db-wal") == 0o600 and modes.get("gw.db-shm") == 0o600, modes
    assert mode(db) == 0o600  # still, after close


def test_an_existing_file_keeps_the_operators_mode(tmp_path: Path) -> None:
    db = tmp_path / "gw.db"
    db.touch()
    db.chmod(0o640)  # e.g. readable by a backup group
    asyncio.run(write_and_check(db))
    assert mode(db) == 0o640
