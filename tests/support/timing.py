"""Complexity guards for the compression stages: catch a regex or scan that went quadratic.

These are not speed targets (those live in ``bench/``). A quadratic regression on the inputs the
tests use costs 0.6–5 s; linear code takes 1–20 ms. :data:`LINEAR_BOUND_S` sits between, with
room for a loaded two-core CI machine, and each measurement is the fastest of three runs with
the compression caches cleared, so neither noise nor a cache hit decides the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opencompress.compression.pipeline import clear_caches

LINEAR_BOUND_S = 0.15


def fastest_s(fn: Callable[[], object], runs: int = 3) -> float:
    """Seconds of the fastest of ``runs`` calls of ``fn``, each after clearing the caches."""
    best = float("inf")
    for _ in range(runs):
        clear_caches()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
