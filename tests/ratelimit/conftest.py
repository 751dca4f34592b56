"""A throwaway redis-server for the session's rate-limit tests (see ``tests/support/services.py``).

Tests isolate themselves with a unique ``key_prefix`` instead of flushing, so they can share it;
tests that stop Redis start their own with :func:`support.services.redis_server`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.services import RedisServer, ServiceMissing, missing_service, redis_server


@pytest.fixture(scope="session")
def redis_srv() -> Iterator[RedisServer]:
    try:
        with redis_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture
def redis_url(redis_srv: RedisServer) -> str:
    return redis_srv.url
