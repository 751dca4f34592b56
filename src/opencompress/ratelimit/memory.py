"""In-process rate limiter: an exact sliding 60 s log and leased concurrency slots per key.

Each key keeps the timestamps of its admitted requests in the last :data:`WINDOW_S` seconds (at
most ``rpm`` of them, so memory is bounded by the limits) and the set of lease ids holding its
concurrency slots. ``acquire`` runs without awaiting anything, so under asyncio the check and the
update are one atomic step; a refused request records nothing. Keys whose log and leases are both
empty are dropped, and a sweep once per window removes keys that simply went quiet.

Limits are per process: run one replica, or use the Redis limiter to share limits across
replicas. Leases do not expire here: a lease lives exactly as long as the process that took it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from opencompress.ratelimit.base import WINDOW_S, Decision, Limits

CONCURRENCY_RETRY_S = 1.0
"""Retry-After for a full concurrency pool: no slot has a known end time, so suggest a short wait."""


@dataclass
class _KeyState:
    log: deque[float] = field(default_factory=deque)
    leases: set[str] = field(default_factory=set)

    def prune(self, now: float) -> None:
        cutoff = now - WINDOW_S
        log = self.log
        while log and log[0] <= cutoff:
            log.popleft()

    @property
    def idle(self) -> bool:
        return not self.log and not self.leases


class MemoryRateLimiter:
    """:class:`opencompress.ratelimit.base.RateLimiter` for one process."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._keys: dict[str, _KeyState] = {}
        self._last_sweep = clock()

    @property
    def tracked_keys(self) -> int:
        """How many keys hold state (for tests and metrics)."""
        return len(self._keys)

    async def acquire(self, key_id: str, limits: Limits, lease_id: str) -> Decision:
        return self.acquire_now(key_id, limits, lease_id)

    def acquire_now(self, key_id: str, limits: Limits, lease_id: str) -> Decision:
        """The synchronous core of :meth:`acquire` (no awaits: atomic under asyncio).

        Acquiring a lease id that is already held admits again without counting a second request,
        so a retried acquire cannot eat two slots.
        """
        if limits.rpm < 1 or limits.concurrency < 1:
            raise ValueError(f"limits must be at least 1, got {limits}")
        now = self._clock()
        self._maybe_sweep(now)
        state = self._keys.get(key_id)
        if state is None:
            state = self._keys[key_id] = _KeyState()
        state.prune(now)
        log = state.log

        if lease_id not in state.leases:
            if len(log) >= limits.rpm:
                retry = log[len(log) - limits.rpm] + WINDOW_S - now
                return self._refuse(key_id, state, limits, now, retry, "rpm")
            if len(state.leases) >= limits.concurrency:
                return self._refuse(key_id, state, limits, now, CONCURRENCY_RETRY_S, "concurrency")
            log.append(now)
            state.leases.add(lease_id)
        return Decision(
            allowed=True,
            limit=limits.rpm,
            remaining=max(0, limits.rpm - len(log)),
            reset_s=_reset(log, now),
        )

    async def release(self, key_id: str, lease_id: str) -> None:
        state = self._keys.get(key_id)
        if state is None:
            return
        state.leases.discard(lease_id)
        state.prune(self._clock())
        if state.idle:
            del self._keys[key_id]

    async def close(self) -> None:
        self._keys.clear()

    def _refuse(
        self,
        key_id: str,
        state: _KeyState,
        limits: Limits,
        now: float,
        retry: float,
        reason: Literal["rpm", "concurrency"],
    ) -> Decision:
        if state.idle:
            del self._keys[key_id]
        return Decision(
            allowed=False,
            limit=limits.rpm,
            remaining=max(0, limits.rpm - len(state.log)),
            reset_s=_reset(state.log, now),
            retry_after_s=max(0.0, retry),
            reason=reason,
        )

    def _maybe_sweep(self, now: float) -> None:
        """Once per window, drop keys whose log has aged out and that hold no lease."""
        if now - self._last_sweep < WINDOW_S:
            return
        self._last_sweep = now
        for key_id in list(self._keys):
            state = self._keys[key_id]
            state.prune(now)
            if state.idle:
                del self._keys[key_id]


def _reset(log: deque[float], now: float) -> float:
    """Seconds until the oldest request in the window ages out (0 with an empty window)."""
    return max(0.0, log[0] + WINDOW_S - now) if log else 0.0
