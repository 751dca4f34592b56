"""The storage contract suite runs once per backend.

Backend-specific code is only :data:`BACKENDS`: a function from the test's ``request`` and
``tmp_path`` to a database URL naming a fresh, empty database. SQLite gets a file in ``tmp_path``;
PostgreSQL gets a new database on one throwaway server started for the session (only when a
PostgreSQL-parametrised test actually runs; see ``tests/support/services.py``). The tests
themselves never branch.

Tests are plain sync functions that call ``use_storage(body)``: it runs ``body(storage)`` in one
``asyncio.run`` with a freshly opened and migrated storage, and closes it afterwards, so
loop-bound connection pools (psycopg) work the same as the SQLite worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opencompress.storage import Storage, open_storage
from support.services import PostgresServer

T = TypeVar("T")


def _sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'contract.db'}"


def _postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    server: PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database("contract")


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": _sqlite_url,
    "postgres": _postgres_url,
}


MARKS = {"postgres": [pytest.mark.postgres]}


@pytest.fixture(params=[pytest.param(name, marks=MARKS.get(name, [])) for name in sorted(BACKENDS)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return BACKENDS[request.param](request, tmp_path)


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
