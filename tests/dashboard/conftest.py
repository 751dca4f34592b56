"""Dashboard fixtures: a dedicated gateway per test module.

Each module gets its own gateway (its own database) so the usage numbers a test reads are only
the ones that module produced. BYOK base URLs on loopback are allowed (the SSRF guard has its
own tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.gateway import Gateway, running_gateway


@pytest.fixture(scope="module")
def dash(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("dash"), simulator.base_url, allow_private_upstreams=True
    ) as gw:
        yield gw
