"""A small thread-safe LRU cache bounded by entry count *and* by total weight.

WHY: a conversation is resent in full on every turn, but only its tail is new. Caching per-message
results (keyed by a content hash) and the state after the frozen prefix means each message is
compressed once, not once per turn. The weight bound (roughly the characters held) keeps a burst of
huge prompts from pinning hundreds of megabytes: entries are evicted oldest-first until both bounds
hold.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

DEFAULT_MAX_ENTRIES = 4096
DEFAULT_MAX_WEIGHT = 64 * 1024 * 1024  # ~64 M characters held across all entries


def digest(*parts: str) -> bytes:
    """A 16-byte content hash of ``parts`` (length-prefixed, so ``("ab","c") != ("a","bc")``)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def chain(previous: bytes, item: bytes) -> bytes:
    """Extend a prefix hash by one item: ``chain(h(prefix), h(x)) == h(prefix + [x])``."""
    return hashlib.blake2b(previous + item, digest_size=16).digest()


class LRUCache(Generic[V]):
    """Least-recently-used map with ``get``/``put``; safe to share between threads."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_weight: int = DEFAULT_MAX_WEIGHT) -> None:
        if max_entries < 1 or max_weight < 1:
            raise ValueError("cache bounds must be positive")
        self.max_entries = max_entries
        self.max_weight = max_weight
        self._data: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: V, weight: int = 1) -> None:
        """Store ``value``; an item heavier than the whole cache is simply not stored."""
        weight = max(1, weight)
        if weight > self.max_weight:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > self.max_entries or self._weight > self.max_weight:
                _, (_, w) = self._data.popitem(last=False)
                self._weight -= w

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0
            self.hits = 0
            self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def weight(self) -> int:
        return self._weight
