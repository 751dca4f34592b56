"""The scale-out tests use the session PostgreSQL and Redis servers (``tests/support/services.py``).

``postgres_url`` names one database on the session's server, migrated by whichever gateway starts
first; ``redis_url`` one redis-server. Tests that stop a server start their own with the context
managers in ``tests/support/services.py``. Missing binaries skip locally and fail under CI=true.
"""

from __future__ import annotations

import pytest

from support.services import PostgresServer, RedisServer


@pytest.fixture(scope="session")
def postgres_url(pg_server: PostgresServer) -> str:
    return pg_server.create_database("scale")


@pytest.fixture(scope="session")
def redis_url(redis_srv: RedisServer) -> str:
    return redis_srv.url
