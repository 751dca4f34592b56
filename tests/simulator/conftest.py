"""Fixtures for the simulator's own tests: one simulator per session, real sockets, real SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from opencompress.simulator import SimulatorThread


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread() as running:
        yield running


@pytest.fixture
def client(sim: SimulatorThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=sim.base_url, api_key="sk-test-simulator", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
def http(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def _sse_payloads(text: str) -> list[str]:
    out = []
    for event in text.split("\n\n"):
        for line in event.split("\n"):
            if line.startswith("data: "):
                out.append(line[len("data: ") :])
    return out


@pytest.fixture
def sse() -> Callable[[str], list[str]]:
    """Split an SSE body into its ``data:`` payloads, in order (comments and blank lines dropped)."""
    return _sse_payloads
