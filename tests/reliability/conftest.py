"""Reliability fixtures: gateways run as real ``opencompress serve`` processes, stopped after each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.serve_process import GatewayProcess

sys.path.insert(0, str(Path(__file__).parent))  # the tests import reliability_helpers


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
