"""Per-key rate limits as the key-authenticated endpoints apply them: one slot per HTTP request.

Shared by chat completions and ``/v1/compress`` so that both draw on the same per-key budget
(requests per minute and concurrent requests) and refuse it with the same 429 and headers; a
second copy would drift, and a route without it becomes a way around the limits.
"""

from __future__ import annotations

from opencompress.errors import RateLimitError
from opencompress.gateway.context import AppContext
from opencompress.ratelimit.base import Decision, Limits
from opencompress.storage.base import ApiKey


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``X-RateLimit-*`` of a decision, for the answer and for the 429 alike."""
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(max(0, decision.remaining)),
        "X-RateLimit-Reset": str(max(0, int(decision.reset_s + 0.999))),
    }


async def acquire_slot(ctx: AppContext, key: ApiKey, request_id: str) -> Decision:
    """Count one request against ``key`` and take one concurrency slot named ``request_id``.

    On success the caller owns the slot and must give it back with
    ``ctx.limiter.release(key.id, request_id)`` on every path; a refusal takes nothing and
    raises :class:`RateLimitError` (429 with ``Retry-After`` and the ``X-RateLimit-*`` headers)."""
    limits = Limits(
        rpm=key.rpm_limit or ctx.settings.default_rpm,
        concurrency=key.concurrency_limit or ctx.settings.default_concurrency,
    )
    decision = await ctx.limiter.acquire(key.id, limits, request_id)
    if not decision.allowed:
        ctx.metrics.count_rate_limited(decision.reason or "unknown")
        what = "requests per minute" if decision.reason == "rpm" else "concurrent requests"
        raise RateLimitError(
            f"Rate limit reached for this key ({what}). Retry after {decision.retry_after_s:.1f}s.",
            retry_after=decision.retry_after_s,
            headers=rate_limit_headers(decision),
        )
    return decision
