"""Rate-limit tests share the session redis-server (``redis_srv``, from ``tests/support/services.py``).

Tests isolate themselves with a unique ``key_prefix`` instead of flushing, so they can share it;
tests that stop Redis start their own with :func:`support.services.redis_server`.
"""

from __future__ import annotations

import pytest

from support.services import RedisServer


@pytest.fixture
def redis_url(redis_srv: RedisServer) -> str:
    return redis_srv.url
