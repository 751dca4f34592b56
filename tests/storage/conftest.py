"""The storage contract suite runs once per backend.

Backend-specific code is only :data:`BACKEND_URLS`: a function from the test's ``tmp_path`` to a
database URL naming a fresh, empty database. A PostgreSQL entry (a URL to a per-test database on a
fixture-started server) slots in beside the SQLite one; the tests themselves never branch.

Tests are plain sync functions that call ``use_storage(body)``: it runs ``body(storage)`` in one
``asyncio.run`` with a freshly opened and migrated storage, and closes it afterwards, so
loop-bound connection pools (asyncpg, psycopg) work the same as the SQLite worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opencompress.storage import Storage, open_storage

T = TypeVar("T")

BACKEND_URLS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp_path: f"sqlite:///{tmp_path / 'contract.db'}",
}


@pytest.fixture(params=sorted(BACKEND_URLS))
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return BACKEND_URLS[request.param](tmp_path)


@pytest.fixture
def use_storage(storage_url: str) -> Callable[[Callable[[Storage], Awaitable[T]]], T]:
    def run(body: Callable[[Storage], Awaitable[T]]) -> T:
        async def main() -> T:
            storage = open_storage(storage_url)
            try:
                await storage.migrate()
                return await body(storage)
            finally:
                await storage.close()

        return asyncio.run(main())

    return run
