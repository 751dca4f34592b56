"""Reliability fixtures: gateways run as real ``opencompress serve`` processes, stopped after each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_helpers import GatewayProcess  # noqa: E402


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    """``spawn(name=..., **settings)`` starts a gateway process; all are stopped after the test."""
    started: list[GatewayProcess] = []

    def start(**settings: Any) -> GatewayProcess:
        gw = GatewayProcess(tmp_path, **settings)
        started.append(gw)
        return gw.start()

    yield start
    for gw in started:
        gw.kill()


@pytest.fixture(scope="session")
def rel_pg() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the reliability tests (each test makes its own database)."""
    from support.services import ServiceMissing, missing_service, postgres_server

    try:
        with postgres_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))


@pytest.fixture(scope="session")
def rel_redis() -> Iterator[Any]:
    from support.services import ServiceMissing, missing_service, redis_server

    try:
        with redis_server() as server:
            yield server
    except ServiceMissing as exc:
        missing_service(str(exc))
