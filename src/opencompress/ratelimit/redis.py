"""Redis rate limiter: one global limit per key across every gateway replica.

Per key there are two sorted sets, both touched by one Lua script so check-and-update is atomic
across replicas (Redis runs a script with nothing interleaved):

* ``{prefix}rl:{key}:log`` — admitted requests scored by admission time: the exact sliding window
  (at most ``rpm`` in any ``window_s``), pruned on every call.
* ``{prefix}rl:{key}:leases`` — concurrency slots: lease ids (the request id) scored by *lease
  expiry*. Expired leases are pruned before counting, so the slots of a replica that died
  mid-stream come back within ``lease_ttl_s``.

Time is Redis's own (``TIME`` inside the script), so replicas with skewed clocks share one
timeline. A refused request writes nothing. Acquiring a lease id that is already held admits
again without counting twice, which also makes the client's retry after a dropped reply safe.

Live leases are kept alive by this process: a heartbeat task renews every lease it holds each
``lease_ttl_s / 3`` seconds, so a stream may run for hours while a crashed replica's slots still
come back after one TTL. The gateway therefore only calls ``acquire`` and ``release``.

Both keys share a hash tag (``{key}``) so the script also works on Redis Cluster. Errors from
Redis become :class:`RateLimiterUnavailable`; wrap this class in
:class:`opencompress.ratelimit.fallback.FallbackRateLimiter` to degrade to local limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from opencompress.ratelimit.base import WINDOW_S, Decision, Limits
from opencompress.ratelimit.fallback import RateLimiterUnavailable
from opencompress.ratelimit.memory import CONCURRENCY_RETRY_S

log = logging.getLogger("opencompress.ratelimit")

_US = 1_000_000

ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rpm, conc, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local window, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
local allowed, retry, reason = 1, 0, ''
if redis.call('ZSCORE', KEYS[2], lease) then
  redis.call('ZADD', KEYS[2], now + ttl, lease)
elseif count >= rpm then
  allowed, reason = 0, 'rpm'
  local nth = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
  retry = tonumber(nth[2]) + window - now
elseif redis.call('ZCARD', KEYS[2]) >= conc then
  allowed, reason = 0, 'concurrency'
else
  redis.call('ZADD', KEYS[1], now, string.format('%d', now) .. ':' .. lease)
  redis.call('ZADD', KEYS[2], now + ttl, lease)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  redis.call('PEXPIRE', KEYS[2], math.ceil(ttl / 1000) + 1000)
  count = count + 1
end
local reset = 0
if count > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  reset = tonumber(oldest[2]) + window - now
end
return {allowed, count, reset, retry, reason}
"""
"""KEYS: log, leases. ARGV: rpm, concurrency, lease id, window µs, lease TTL µs.
Returns {allowed, requests in window, µs until the oldest leaves, retry-after µs, reason}."""

RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
    renewed = renewed + 1
  end
end
if renewed > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
end
return renewed
"""
"""KEYS: leases. ARGV: lease TTL µs, lease ids. Extends the given leases that have not expired."""


class RedisRateLimiter:
    """:class:`opencompress.ratelimit.base.RateLimiter` shared by every replica using one Redis."""

    def __init__(
        self,
        url: str,
        *,
        lease_ttl_s: float = 60.0,
        key_prefix: str = "occ:",
        window_s: float = WINDOW_S,
        renew: bool = True,
        socket_timeout_s: float = 1.0,
    ) -> None:
        if lease_ttl_s <= 0 or window_s <= 0:
            raise ValueError("lease_ttl_s and window_s must be positive")
        self.lease_ttl_s = lease_ttl_s
        self.window_s = window_s
        self.key_prefix = key_prefix
        self._renew_enabled = renew
        # One quick retry on a broken pooled connection (Redis restarted); no backoff, so an
        # outage is reported within about one socket timeout and the fallback takes over.
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 1),
        )
        self._acquire = self._client.register_script(ACQUIRE)
        self._renew = self._client.register_script(RENEW)
        self._held: dict[str, set[str]] = {}
        # Releases Redis never got (a network partition loses the command, and Redis keeps the
        # lease): sent again before the next acquire and by the heartbeat. Left to the lease's TTL,
        # an idle key was refused for up to a minute after the network healed.
        self._unreleased: dict[str, set[str]] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    def _keys(self, key_id: str) -> tuple[str, str]:
        base = f"{self.key_prefix}rl:{{{key_id}}}"
        return f"{base}:log", f"{base}:leases"

    @contextlib.contextmanager
    def _unavailable(self) -> Iterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise RateLimiterUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def acquire(self, key_id: str, limits: Limits, lease_id: str) -> Decision:
        if limits.rpm < 1 or limits.concurrency < 1:
            raise ValueError(f"limits must be at least 1, got {limits}")
        args: list[str | int] = [
            limits.rpm,
            limits.concurrency,
            lease_id,
            round(self.window_s * _US),
            round(self.lease_ttl_s * _US),
        ]
        with self._unavailable():
            if self._unreleased:
                await self._release_lost()
            reply: list[Any] = await self._acquire(keys=list(self._keys(key_id)), args=args)
        allowed, count, reset_us, retry_us, reason = reply
        reset_s = max(0.0, int(reset_us) / _US)
        if not allowed:
            concurrency = reason in (b"concurrency", "concurrency")
            return Decision(
                allowed=False,
                limit=limits.rpm,
                remaining=max(0, limits.rpm - int(count)),
                reset_s=reset_s,
                retry_after_s=CONCURRENCY_RETRY_S if concurrency else max(0.0, int(retry_us) / _US),
                reason="concurrency" if concurrency else "rpm",
            )
        self._held.setdefault(key_id, set()).add(lease_id)
        self._start_heartbeat()
        return Decision(
            allowed=True, limit=limits.rpm, remaining=max(0, limits.rpm - int(count)), reset_s=reset_s
        )

    async def release(self, key_id: str, lease_id: str) -> None:
        held = self._held.get(key_id)
        if held is not None:
            held.discard(lease_id)
            if not held:
                del self._held[key_id]
        try:
            with self._unavailable():
                await self._client.zrem(self._keys(key_id)[1], lease_id)
        except RateLimiterUnavailable:
            self._unreleased.setdefault(key_id, set()).add(lease_id)
            self._start_heartbeat()
            raise

    async def _release_lost(self) -> None:
        """Send the releases that failed again (raises the client's error if Redis is still away)."""
        for key_id, leases in list(self._unreleased.items()):
            await self._client.zrem(self._keys(key_id)[1], *leases)
            del self._unreleased[key_id]

    async def renew(self, key_id: str, *lease_ids: str) -> int:
        """Extend unexpired leases by one TTL from now; returns how many were renewed.

        Called by the heartbeat for every lease this process holds; public for callers that
        disable the heartbeat (``renew=False``) and keep their leases alive themselves.
        """
        if not lease_ids:
            return 0
        with self._unavailable():
            renewed = await self._renew(
                keys=[self._keys(key_id)[1]], args=[round(self.lease_ttl_s * _US), *lease_ids]
            )
        return int(renewed)

    @property
    def held_leases(self) -> int:
        """Leases this process holds and keeps alive (for tests and metrics)."""
        return sum(len(leases) for leases in self._held.values())

    def _start_heartbeat(self) -> None:
        if self._renew_enabled and (self._heartbeat is None or self._heartbeat.done()):
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._beat(), name="ratelimit-lease-renewal"
            )

    async def _beat(self) -> None:
        """Renew held leases every third of a TTL, and retry lost releases; exits when there is
        neither (restarted on acquire and on a failed release)."""
        while self._held or self._unreleased:
            await asyncio.sleep(self.lease_ttl_s / 3)
            if self._unreleased:
                try:
                    with self._unavailable():
                        await self._release_lost()
                except RateLimiterUnavailable as exc:
                    log.debug("releasing lost leases failed: %s", exc)
            for key_id, leases in list(self._held.items()):
                try:
                    await self.renew(key_id, *leases)
                except RateLimiterUnavailable as exc:
                    log.debug("lease renewal for %s failed: %s", key_id, exc)

    async def close(self) -> None:
        """Stop renewing (held leases then expire on their own) and close the connection pool."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        self._held.clear()
        self._unreleased.clear()
        await self._client.aclose()
