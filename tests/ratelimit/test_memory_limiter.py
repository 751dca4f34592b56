"""The in-process limiter: exact sliding window, concurrency leases, atomicity, bounded memory."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opencompress.ratelimit.base import Decision, Limits
from opencompress.ratelimit.memory import CONCURRENCY_RETRY_S, MemoryRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def acquire(limiter: MemoryRateLimiter, key: str, limits: Limits, lease: str) -> Decision:
    return asyncio.run(limiter.acquire(key, limits, lease))


def release(limiter: MemoryRateLimiter, key: str, lease: str) -> None:
    asyncio.run(limiter.release(key, lease))


def test_sliding_window_is_exact() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    limits = Limits(rpm=3, concurrency=100)
    start = clock.now
    seen = []
    for i, offset in enumerate([0, 10, 20]):
        clock.now = start + offset
        seen.append(acquire(limiter, "k", limits, f"r{i}"))
    assert [d.allowed for d in seen] == [True, True, True]
    assert [d.remaining for d in seen] == [2, 1, 0]
    assert seen[2].limit == 3 and seen[2].reset_s == pytest.approx(40.0)
    clock.now = start + 30
    refused = acquire(limiter, "k", limits, "r3")
    assert (refused.allowed, refused.reason, refused.remaining) == (False, "rpm", 0)
    assert refused.retry_after_s == pytest.approx(30.0)  # when the t=0 request leaves the window
    clock.now = start + 59.999
    assert not acquire(limiter, "k", limits, "r4").allowed
    clock.now = start + 60.0
    again = acquire(limiter, "k", limits, "r5")
    assert again.allowed and again.remaining == 0
    assert again.reset_s == pytest.approx(10.0)  # the t=10 request is now the oldest


def test_concurrency_slots_and_refusals_consume_nothing() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    limits = Limits(rpm=3, concurrency=2)
    assert acquire(limiter, "k", limits, "a").allowed
    assert acquire(limiter, "k", limits, "b").allowed
    full = acquire(limiter, "k", limits, "c")
    assert (full.allowed, full.reason, full.retry_after_s) == (False, "concurrency", CONCURRENCY_RETRY_S)
    assert full.remaining == 1  # the refused request did not count against the minute
    release(limiter, "k", "a")
    release(limiter, "k", "a")  # idempotent
    release(limiter, "other", "zzz")  # unknown key: nothing to do
    third = acquire(limiter, "k", limits, "c")
    assert third.allowed and third.remaining == 0
    assert acquire(limiter, "other-key", limits, "x").allowed  # keys are independent


def test_reacquiring_a_held_lease_counts_once() -> None:
    limiter = MemoryRateLimiter(clock=Clock())
    limits = Limits(rpm=2, concurrency=1)
    first = acquire(limiter, "k", limits, "same")
    again = acquire(limiter, "k", limits, "same")
    assert first.allowed and again.allowed and again.remaining == 1


def test_invalid_limits_are_a_bug() -> None:
    limiter = MemoryRateLimiter()
    with pytest.raises(ValueError):
        acquire(limiter, "k", Limits(rpm=0, concurrency=1), "a")
    with pytest.raises(ValueError):
        acquire(limiter, "k", Limits(rpm=1, concurrency=0), "a")


def test_memory_is_bounded() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    limits = Limits(rpm=5, concurrency=5)

    async def churn() -> None:
        for i in range(1_000):
            assert (await limiter.acquire(f"key-{i}", limits, "lease")).allowed
            await limiter.release(f"key-{i}", "lease")

    asyncio.run(churn())
    assert limiter.tracked_keys == 1_000  # their requests are still inside the window
    clock.now += 61
    release(limiter, "key-0", "gone")  # a released key with an aged-out log is dropped at once
    assert limiter.tracked_keys == 999
    acquire(limiter, "fresh", limits, "lease")  # the once-a-window sweep drops the rest
    assert limiter.tracked_keys == 1
    asyncio.run(limiter.close())
    assert limiter.tracked_keys == 0


def test_atomic_under_concurrent_tasks() -> None:
    limiter = MemoryRateLimiter()

    async def main() -> list[Decision]:
        limits = Limits(rpm=10, concurrency=50)
        return await asyncio.gather(*(limiter.acquire("k", limits, f"r{i}") for i in range(100)))

    decisions = asyncio.run(main())
    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


@given(
    rpm=st.integers(1, 5),
    gaps=st.lists(st.floats(min_value=0, max_value=40, allow_nan=False), min_size=1, max_size=60),
)
def test_never_more_than_rpm_in_any_window(rpm: int, gaps: list[float]) -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    limits = Limits(rpm=rpm, concurrency=1_000)
    admitted: list[float] = []
    for i, gap in enumerate(gaps):
        clock.now += gap
        decision = limiter.acquire_now("k", limits, f"r{i}")
        if decision.allowed:
            admitted.append(clock.now)
        else:
            # refused only when the window really is full, and the retry hint is truthful
            in_window = [t for t in admitted if t > clock.now - 60]
            assert len(in_window) >= rpm
            assert decision.retry_after_s == pytest.approx(in_window[-rpm] + 60 - clock.now)
    for t in admitted:
        assert sum(1 for u in admitted if t <= u < t + 60) <= rpm
