"""The LRU cache: both bounds hold, recency is respected, and it is safe across threads."""

from __future__ import annotations

import threading

import pytest

from opencompress.compression.cache import LRUCache, chain, digest


def test_evicts_least_recently_used_by_count() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_weight_bound_and_oversized_items() -> None:
    cache: LRUCache[str] = LRUCache(max_entries=10, max_weight=10)
    cache.put("a", "x", weight=6)
    cache.put("b", "y", weight=6)
    assert cache.get("a") is None and cache.get("b") == "y" and cache.weight == 6
    cache.put("huge", "z", weight=11)
    assert cache.get("huge") is None and cache.get("b") == "y"


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LRUCache(max_entries=0)


def test_digest_is_length_prefixed_and_chain_is_order_sensitive() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("x") == digest("x") and len(digest("x")) == 16
    a, b = digest("a"), digest("b")
    assert chain(chain(b"", a), b) != chain(chain(b"", b), a)


def test_concurrent_use_keeps_the_bounds() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=50, max_weight=500)

    def work(k: int) -> None:
        for i in range(2000):
            cache.put((k, i % 80), i, weight=1 + i % 7)
            cache.get((k, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 50 and cache.weight <= 500
