"""Rate-limit interface: requests per minute (sliding 60 s log, exact) and concurrent slots per key.

A sliding log rather than a token bucket because the contract is "at most N requests in any
60 seconds", which a bucket's refill would exceed during a burst. Concurrency slots are leases
named by the request id; a backend may expire leases so that a dead process cannot hold a key's
slots forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

WINDOW_S = 60.0


@dataclass(frozen=True, kw_only=True)
class Limits:
    rpm: int
    concurrency: int


@dataclass(frozen=True, kw_only=True)
class Decision:
    allowed: bool
    limit: int
    """The requests-per-minute limit (``X-RateLimit-Limit``)."""
    remaining: int
    """Requests left in the current window after this one (``X-RateLimit-Remaining``)."""
    reset_s: float
    """Seconds until a request slot frees up in the window (``X-RateLimit-Reset``)."""
    retry_after_s: float = 0.0
    reason: Literal["rpm", "concurrency"] | None = None


class RateLimiter(Protocol):
    async def acquire(self, key_id: str, limits: Limits, lease_id: str) -> Decision:
        """Count one request and take one concurrency slot, atomically; refused requests take neither."""
        ...

    async def release(self, key_id: str, lease_id: str) -> None:
        """Give the concurrency slot back (idempotent)."""
        ...

    async def close(self) -> None: ...
