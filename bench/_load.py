"""The load generator: a fixed number of requests at a fixed concurrency over one aiohttp session.

Closed loop: ``concurrency`` workers each send their next request as soon as the previous answer
is fully read, until ``requests`` were sent or ``max_seconds`` passed (the run is bounded in time
even against a server that slows to a crawl). Latency is request start → last body byte;
time-to-first-byte (streaming) is request start → first body chunk.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp


@dataclass
class PointResult:
    latencies_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    headers_seen: dict[str, set[str]] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def sent(self) -> int:
        return self.ok + self.errors

    def merge(self, other: PointResult) -> None:
        self.latencies_ms += other.latencies_ms
        self.ttfb_ms += other.ttfb_ms
        self.errors += other.errors
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        for name, values in other.headers_seen.items():
            self.headers_seen.setdefault(name, set()).update(values)
        self.wall_s += other.wall_s


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


KEEPALIVE_S = 4.0
"""How long an idle pooled connection is reused: under uvicorn's 5 s keep-alive timeout. With
aiohttp's default of 15 s, a connection left idle while the other variants ran could be reused
just as the server closed it (one run lost 11 requests to "Server disconnected")."""


def new_session(limit: int = 256) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=limit, limit_per_host=limit, force_close=False, keepalive_timeout=KEEPALIVE_S
    )
    timeout = aiohttp.ClientTimeout(total=60, connect=10)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False)


async def run_point(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    requests: int,
    concurrency: int,
    stream: bool,
    max_seconds: float,
    watch_headers: Sequence[str] = (),
) -> PointResult:
    """Send ``requests`` POSTs of ``body`` to ``url`` with ``concurrency`` workers."""
    result = PointResult()
    remaining = requests
    started = time.perf_counter()
    deadline = started + max_seconds

    async def one() -> None:
        t0 = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            first: float | None = None
            size = 0
            head = b""
            async for chunk in response.content.iter_any():
                if first is None:
                    first = time.perf_counter()
                    head = chunk[:300]
                size += len(chunk)
            t1 = time.perf_counter()
            if response.status != 200 or size == 0:
                shown = head.decode("utf-8", "replace")
                raise RuntimeError(f"HTTP {response.status}, {size} body bytes: {shown}")
            for name in watch_headers:
                result.headers_seen.setdefault(name, set()).add(response.headers.get(name, "<absent>"))
        result.latencies_ms.append((t1 - t0) * 1000)
        if stream and first is not None:
            result.ttfb_ms.append((first - t0) * 1000)

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            try:
                await one()
            except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, requests)))))
    result.wall_s = time.perf_counter() - started
    return result
