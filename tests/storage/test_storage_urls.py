"""Database URLs: SQLAlchemy-style sqlite forms, and a clear refusal for the rest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from opencompress.storage import SqliteStorage, UnsupportedDatabaseURL, open_storage, sqlite_path
from opencompress.storage.migrate import load_migrations


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///data/oc.db", "data/oc.db"),
        ("sqlite:////abs/path.db", "/abs/path.db"),
        ("sqlite://", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url_forms(url: str, path: str) -> None:
    assert sqlite_path(url) == path
    storage = open_storage(url)
    assert isinstance(storage, SqliteStorage) and storage.path == path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/oc", "unsupported database URL scheme"),
        ("sqlite:relative.db", "three slashes"),
        ("sqlite:///x.db?mode=ro", "query parameters"),
    ],
)
def test_unsupported_urls_fail_clearly(url: str, message: str) -> None:
    with pytest.raises(UnsupportedDatabaseURL, match=message):
        open_storage(url)


def test_relative_file_is_created_with_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def main() -> list[str]:
        storage = open_storage("sqlite:///nested/dir/oc.db")
        try:
            return await storage.migrate()
        finally:
            await storage.close()

    assert asyncio.run(main()) == [m.name for m in load_migrations("sqlite")]
    assert (tmp_path / "nested" / "dir" / "oc.db").is_file()


def test_memory_database_works_for_one_storage() -> None:
    async def main() -> int:
        storage = open_storage("sqlite://")
        try:
            await storage.migrate()
            account = await storage.create_account("mem")
            return await storage.credit(account.id, 7, "t")
        finally:
            await storage.close()

    assert asyncio.run(main()) == 7
