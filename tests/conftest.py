"""Suite-wide fixtures: one upstream simulator and one gateway (uvicorn on loopback) per session.

Tests never reach the network: the gateway's upstream is the project's own simulator on 127.0.0.1.
Imports of the app happen inside the fixtures so unit-test directories do not depend on them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.services import own_pg, pg_server, redis_srv  # noqa: E402,F401  (PostgreSQL and Redis servers)


@pytest.fixture(scope="session")
def simulator() -> Iterator[Any]:
    from opencompress.simulator import SimulatorThread

    with SimulatorThread() as sim:
        yield sim


@pytest.fixture(scope="session")
def gateway(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from support.gateway import running_gateway

    with running_gateway(tmp_path_factory.mktemp("gw"), simulator.base_url) as gw:
        yield gw
