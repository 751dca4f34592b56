"""Shared PostgreSQL and Redis for the scale-out tests (one throwaway server each per session).

``postgres_url`` names one database on the session's server, migrated by whichever gateway starts
first; ``redis_url`` one redis-server. Tests that stop a server start their own with the context
managers in ``tests/support/services.py``. Missing binaries skip locally and fail under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.services import (
    PostgresServer,
    RedisServer,
    ServiceMissing,
    missing_service,
    postgres_server,
    redis_server,
)


@pytest.fixture(scope="session")
def scale_pg() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture(scope="session")
def postgres_url(scale_pg: PostgresServer) -> str:
    return scale_pg.create_database("scale")


@pytest.fixture(scope="session")
def scale_redis() -> Iterator[RedisServer]:
    try:
        with redis_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture(scope="session")
def redis_url(scale_redis: RedisServer) -> str:
    return scale_redis.url
