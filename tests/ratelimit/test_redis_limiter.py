"""The Redis limiter against a real redis-server: exact window, global limits, expiring leases, fallback."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis

from opencompress.ratelimit.base import Decision, Limits
from opencompress.ratelimit.fallback import FallbackRateLimiter, RateLimiterUnavailable, open_rate_limiter
from opencompress.ratelimit.memory import CONCURRENCY_RETRY_S, MemoryRateLimiter
from opencompress.ratelimit.redis import RedisRateLimiter
from support.flaky_proxy import CuttableProxy
from support.services import RedisServer, ServiceMissing, missing_service, redis_server

pytestmark = pytest.mark.redis

T = TypeVar("T")


def limiter_for(url: str, **kwargs: Any) -> RedisRateLimiter:
    """A limiter with its own key namespace, so tests sharing one server never see each other."""
    return RedisRateLimiter(url, key_prefix=f"t-{uuid.uuid4().hex[:8]}:", **kwargs)


def run_with(limiters: list[RedisRateLimiter], body: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await body()
        finally:
            for limiter in limiters:
                await limiter.close()

    return asyncio.run(main())


def test_sliding_window_is_exact(redis_url: str) -> None:
    limiter = limiter_for(redis_url, window_s=1.0)
    limits = Limits(rpm=3, concurrency=100)

    async def body() -> None:
        seen, at = [], []
        for i in range(3):  # at about t = 0, 0.3, 0.6
            at.append(time.monotonic())
            seen.append(await limiter.acquire("k", limits, f"r{i}"))
            await asyncio.sleep(0.3 if i < 2 else 0)
        assert [d.allowed for d in seen] == [True, True, True]
        assert [d.remaining for d in seen] == [2, 1, 0]
        tolerance = 0.05  # local clock vs Redis's, plus reply latency
        assert seen[2].limit == 3
        assert seen[2].reset_s == pytest.approx(at[0] + 1 - at[2], abs=tolerance)  # when t=0 leaves
        now = time.monotonic()
        refused = await limiter.acquire("k", limits, "r3")
        assert (refused.allowed, refused.reason, refused.remaining) == (False, "rpm", 0)
        assert refused.retry_after_s == pytest.approx(at[0] + 1 - now, abs=tolerance)
        await asyncio.sleep(refused.retry_after_s + 0.02)
        now = time.monotonic()
        again = await limiter.acquire("k", limits, "r4")
        assert again.allowed and again.remaining == 0  # only the t=0 request left; t=0.3 still counts
        assert again.reset_s == pytest.approx(at[1] + 1 - now, abs=tolerance)
        assert not (await limiter.acquire("k", limits, "r5")).allowed

    run_with([limiter], body)


def test_never_more_than_rpm_in_any_window(redis_url: str) -> None:
    window, rpm = 0.5, 5
    limiter = limiter_for(redis_url, window_s=window)
    limits = Limits(rpm=rpm, concurrency=1_000)

    async def body() -> list[float]:
        admitted: list[float] = []
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < 1.6:
            i += 1
            decision = await limiter.acquire("k", limits, f"r{i}")
            if decision.allowed:
                admitted.append(time.monotonic())
                await limiter.release("k", f"r{i}")
            await asyncio.sleep(0.004)
        return admitted

    admitted = run_with([limiter], body)
    assert 3 * rpm <= len(admitted) <= 4 * rpm  # progress each window, never more than the limit
    slack = 0.03  # local timestamps vs Redis's: the reply latency
    assert all(
        later - first >= window - slack for first, later in zip(admitted, admitted[rpm:], strict=False)
    )


def test_concurrency_slots_and_refusals_consume_nothing(redis_url: str) -> None:
    limiter = limiter_for(redis_url)
    limits = Limits(rpm=3, concurrency=2)

    async def body() -> None:
        assert (await limiter.acquire("k", limits, "a")).allowed
        assert (await limiter.acquire("k", limits, "b")).allowed
        full = await limiter.acquire("k", limits, "c")
        assert (full.allowed, full.reason, full.retry_after_s) == (False, "concurrency", CONCURRENCY_RETRY_S)
        assert full.remaining == 1  # the refused request did not count against the minute
        await limiter.release("k", "a")
        await limiter.release("k", "a")  # idempotent
        await limiter.release("other", "zzz")
        third = await limiter.acquire("k", limits, "c")
        assert third.allowed and third.remaining == 0
        assert (await limiter.acquire("other-key", limits, "x")).allowed  # keys are independent
        again = await limiter.acquire("k", limits, "c")  # re-acquiring a held lease counts once
        assert again.allowed and again.remaining == 0
        with pytest.raises(ValueError):
            await limiter.acquire("k", Limits(rpm=0, concurrency=1), "z")

    run_with([limiter], body)


def test_two_replicas_share_one_global_limit(redis_url: str) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    replicas = [RedisRateLimiter(redis_url, key_prefix=prefix) for _ in range(2)]

    async def body() -> tuple[list[Decision], list[Decision]]:
        rpm_limits = Limits(rpm=37, concurrency=1_000)
        by_rpm = await asyncio.gather(
            *(replicas[i % 2].acquire("shared", rpm_limits, f"r{i}") for i in range(100))
        )
        slot_limits = Limits(rpm=1_000, concurrency=10)
        by_slots = await asyncio.gather(
            *(replicas[i % 2].acquire("slots", slot_limits, f"s{i}") for i in range(100))
        )
        return by_rpm, by_slots

    by_rpm, by_slots = run_with(replicas, body)
    assert sum(d.allowed for d in by_rpm) == 37
    assert sorted(d.remaining for d in by_rpm if d.allowed) == list(
        range(37)
    )  # atomic: no two saw the same count
    assert {d.reason for d in by_rpm if not d.allowed} == {"rpm"}
    assert sum(d.allowed for d in by_slots) == 10
    assert {d.reason for d in by_slots if not d.allowed} == {"concurrency"}


def test_live_leases_are_renewed_and_a_dead_replicas_expire(redis_url: str) -> None:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    ttl = 0.4
    doomed = RedisRateLimiter(redis_url, key_prefix=prefix, lease_ttl_s=ttl)
    survivor = RedisRateLimiter(redis_url, key_prefix=prefix, lease_ttl_s=ttl)
    limits = Limits(rpm=1_000, concurrency=2)

    async def body() -> float:
        assert (await doomed.acquire("k", limits, "stream-1")).allowed
        assert (await doomed.acquire("k", limits, "stream-2")).allowed
        await asyncio.sleep(3 * ttl)  # long streams: the heartbeat keeps their slots
        assert (await survivor.acquire("k", limits, "x0")).reason == "concurrency"
        assert doomed.held_leases == 2
        await doomed.close()  # the replica dies: no release, no more renewals
        died = time.monotonic()
        assert (await survivor.acquire("k", limits, "x1")).reason == "concurrency"
        attempt = 1
        while not (await survivor.acquire("k", limits, f"x{(attempt := attempt + 1)}")).allowed:
            assert time.monotonic() - died < ttl + 0.5
            await asyncio.sleep(0.02)
        return time.monotonic() - died

    waited = run_with([survivor], body)
    assert waited <= ttl + 0.2


def test_keys_expire_so_idle_keys_cost_nothing(redis_url: str, redis_srv: RedisServer) -> None:
    limiter = limiter_for(redis_url, window_s=2.0, lease_ttl_s=3.0)

    async def body() -> tuple[int, int, int]:
        await limiter.acquire("k", Limits(rpm=5, concurrency=5), "a")
        client = aioredis.Redis.from_url(redis_url)
        try:
            log_key, lease_key = limiter._keys("k")
            return await client.pttl(log_key), await client.pttl(lease_key), await client.zcard(lease_key)
        finally:
            await client.aclose()

    log_ttl, lease_ttl, leases = run_with([limiter], body)
    assert 2_000 < log_ttl <= 3_000 and 3_000 < lease_ttl <= 4_000 and leases == 1


def test_falls_back_to_local_limits_while_redis_is_down(caplog: pytest.LogCaptureFixture) -> None:
    try:
        server_cm = redis_server()
        server = server_cm.__enter__()
    except ServiceMissing as exc:
        missing_service(str(exc))
    caplog.set_level(logging.INFO, logger="opencompress.ratelimit")
    primary = RedisRateLimiter(server.url, key_prefix="fb:")
    local = MemoryRateLimiter()
    limiter = FallbackRateLimiter(primary, local, probe_interval_s=0.2)
    limits = Limits(rpm=3, concurrency=10)

    async def body() -> None:
        assert (await limiter.acquire("k", limits, "on-redis")).allowed
        server.stop()
        started = time.monotonic()
        local_decisions = [await limiter.acquire("k", limits, f"local-{i}") for i in range(5)]
        assert time.monotonic() - started < 1.0  # degraded, not stuck: one failed probe then local
        assert limiter.degraded
        assert [d.allowed for d in local_decisions] == [True, True, True, False, False]  # local limit applies
        assert local.tracked_keys == 1
        await limiter.release("k", "on-redis")  # its Redis lease just expires; no error
        for i in range(3):
            await limiter.release("k", f"local-{i}")
        server.start()  # same port, empty data
        await asyncio.sleep(0.25)
        back = await limiter.acquire("k", limits, "back")
        assert back.allowed and back.remaining == 2 and not limiter.degraded
        client = aioredis.Redis.from_url(server.url)
        try:
            assert await client.zcard(primary._keys("k")[1]) == 1  # the lease really is in Redis again
        finally:
            await client.aclose()
        await limiter.release("k", "back")
        await limiter.close()

    try:
        asyncio.run(body())
    finally:
        server_cm.__exit__(None, None, None)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falling back to per-process limits" in warnings[0].getMessage()
    assert any("is back" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)


def test_open_rate_limiter_picks_the_backend(redis_url: str) -> None:
    assert isinstance(open_rate_limiter(""), MemoryRateLimiter)
    chosen = open_rate_limiter(redis_url)
    assert isinstance(chosen, FallbackRateLimiter) and isinstance(chosen.primary, RedisRateLimiter)
    asyncio.run(chosen.close())


def test_a_hung_redis_is_probed_by_one_request_at_a_time() -> None:
    """Against a hung (not dead) server a probe waits a socket timeout; the requests that arrive
    meanwhile used to probe too, each waiting as long."""
    try:
        server_cm = redis_server()
        server = server_cm.__enter__()
    except ServiceMissing as exc:
        missing_service(str(exc))
    primary = RedisRateLimiter(server.url, key_prefix="hung:", socket_timeout_s=0.3)
    limiter = FallbackRateLimiter(primary, MemoryRateLimiter(), probe_interval_s=0.5)
    limits = Limits(rpm=1000, concurrency=100)

    async def timed(lease: str) -> float:
        started = time.monotonic()
        assert (await limiter.acquire("k", limits, lease)).allowed
        return time.monotonic() - started

    async def body() -> list[float]:
        assert (await limiter.acquire("k", limits, "before")).allowed
        assert server._proc is not None
        os.kill(server._proc.pid, signal.SIGSTOP)
        try:
            await timed("detects")  # this one finds out (a socket timeout or two)
            assert limiter.degraded
            await asyncio.sleep(0.6)  # a probe is due
            return await asyncio.gather(*(timed(f"during-{i}") for i in range(10)))
        finally:
            os.kill(server._proc.pid, signal.SIGCONT)
            await limiter.close()

    try:
        waits = asyncio.run(body())
    finally:
        server_cm.__exit__(None, None, None)
    slow = [w for w in waits if w > 0.2]
    assert len(slow) <= 1, f"only the probing request may wait on the hung server: {waits}"


def test_a_lease_whose_release_was_lost_in_a_partition_is_released_when_redis_is_back(
    redis_srv: RedisServer,
) -> None:
    """A release sent while the network to Redis was cut is lost (Redis keeps its data, unlike a
    restart). The lease used to be forgotten by this process and left to its TTL: an idle key was
    refused for up to a minute after the partition healed."""
    with CuttableProxy(redis_srv.port) as proxy:
        limiter = limiter_for(f"redis://127.0.0.1:{proxy.port}/0")
        limits = Limits(rpm=100, concurrency=1)

        async def body() -> tuple[bool, bool]:
            assert (await limiter.acquire("k", limits, "a")).allowed
            proxy.cut()
            with pytest.raises(RateLimiterUnavailable):
                await limiter.release("k", "a")
            proxy.heal()
            after = await limiter.acquire("k", limits, "b")
            await limiter.release("k", "b")
            return after.allowed, limiter.held_leases == 0

        assert run_with([limiter], body) == (True, True)
