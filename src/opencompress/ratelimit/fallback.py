"""Degrade, do not fail: a shared limiter (Redis) with the in-process limiter behind it.

The documented behaviour for "Redis down" is *fall back to local limits with a warning*: a rate
limiter outage must not take the gateway down with it, but the operator must hear about it once,
not once per request. While the primary is down, acquires go to the fallback (per-process limits,
so N replicas admit up to N× the limit, on top of what was in flight when the outage began; and a
primary that comes back empty starts its windows afresh). The primary is probed again by at most
one acquire every ``probe_interval_s``: only that request waits on the probe (against a hung
server, up to its socket timeout), every other one goes straight to the fallback. The first
acquire the primary answers again ends the outage (logged at INFO).

A lease is released where it was taken: the fallback remembers its own, and a lease taken on the
primary whose release fails is released there again once the primary answers (or expires by its
TTL first).

:func:`open_rate_limiter` is the composition helper the app uses: memory without a Redis URL,
Redis wrapped in this class with one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from opencompress.ratelimit.base import Decision, Limits, RateLimiter
from opencompress.ratelimit.memory import MemoryRateLimiter

if TYPE_CHECKING:
    from opencompress.ratelimit.redis import RedisRateLimiter

log = logging.getLogger("opencompress.ratelimit")


class RateLimiterUnavailable(Exception):
    """Raised by a shared limiter when its backend cannot be reached; callers should degrade."""


class FallbackRateLimiter:
    """:class:`opencompress.ratelimit.base.RateLimiter` that survives its primary's outages."""

    def __init__(
        self,
        primary: RateLimiter,
        fallback: RateLimiter,
        *,
        probe_interval_s: float = 5.0,
        warn_interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "Redis",
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self._probe_interval_s = probe_interval_s
        self._warn_interval_s = warn_interval_s
        self._clock = clock
        self._name = name
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._last_warning = -math.inf
        self._local: set[tuple[str, str]] = set()

    @property
    def degraded(self) -> bool:
        """True while requests are limited per process because the primary is unreachable."""
        return self._down_since is not None

    async def acquire(self, key_id: str, limits: Limits, lease_id: str) -> Decision:
        now = self._clock()
        if self._down_since is None or now >= self._next_probe:
            if self._down_since is not None:
                # One probe at a time: against a hung server it waits a socket timeout, and the
                # requests arriving meanwhile must not each wait on a probe of their own.
                self._next_probe = now + self._probe_interval_s
            try:
                decision = await self.primary.acquire(key_id, limits, lease_id)
            except RateLimiterUnavailable as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
                return decision
        self._local.add((key_id, lease_id))
        return await self.fallback.acquire(key_id, limits, lease_id)

    async def release(self, key_id: str, lease_id: str) -> None:
        if (key_id, lease_id) in self._local:
            self._local.discard((key_id, lease_id))
            await self.fallback.release(key_id, lease_id)
            return
        try:
            await self.primary.release(key_id, lease_id)
        except RateLimiterUnavailable as exc:
            self._mark_down(exc)  # the primary sends it again when it can, or the lease expires

    async def close(self) -> None:
        try:
            await self.primary.close()
        finally:
            await self.fallback.close()

    def _mark_down(self, exc: BaseException) -> None:
        now = self._clock()
        self._next_probe = now + self._probe_interval_s
        if self._down_since is not None:
            return
        self._down_since = now
        if now - self._last_warning >= self._warn_interval_s:
            self._last_warning = now
            log.warning(
                "%s rate limiter unavailable (%s): falling back to per-process limits until it is back",
                self._name,
                exc,
            )

    def _mark_up(self) -> None:
        if self._down_since is not None:
            log.info(
                "%s rate limiter is back after %.1f s: limits are global again",
                self._name,
                self._clock() - self._down_since,
            )
            self._down_since = None


REDIS_SCHEMES = ("redis", "rediss", "unix")


def redis_limiter_class(redis_url: str) -> type[RedisRateLimiter]:
    """The Redis limiter class, after checking what can be checked without a connection: the URL's
    scheme and the optional client library. ``ValueError`` (a configuration error) otherwise, so
    ``serve`` can refuse to start with one line before it creates anything."""
    scheme = redis_url.split("://", 1)[0].lower() if "://" in redis_url else ""
    if scheme not in REDIS_SCHEMES:
        # the value is not echoed: a URL missing its scheme may still carry a password
        raise ValueError("OPENCOMPRESS_REDIS_URL must start with redis://, rediss:// or unix://")
    try:
        from opencompress.ratelimit.redis import RedisRateLimiter
    except ImportError as exc:
        raise ValueError(
            "OPENCOMPRESS_REDIS_URL is set but the redis client is not installed: install the `redis` extra "
            "(pip install 'opencompress[redis]' or uv sync --extra redis)"
        ) from exc
    return RedisRateLimiter


def open_rate_limiter(
    redis_url: str = "", *, key_prefix: str = "occ:", lease_ttl_s: float = 60.0
) -> RateLimiter:
    """The app's limiter: per process without ``redis_url``; Redis with a local fallback with one."""
    if not redis_url:
        return MemoryRateLimiter()
    limiter_class = redis_limiter_class(redis_url)  # imported on demand: SQLite installs have no redis
    return FallbackRateLimiter(
        limiter_class(redis_url, key_prefix=key_prefix, lease_ttl_s=lease_ttl_s), MemoryRateLimiter()
    )
