"""Which upstream headers a relayed 4xx keeps (``upstream.client.relayed_error_headers``)."""

from __future__ import annotations

from opencompress.upstream.client import relayed_error_headers


def test_keeps_retry_hints_and_provider_budgets_only() -> None:
    upstream = {
        "Retry-After": "7",
        "retry-after-ms": "6500",
        "x-ratelimit-limit-requests": "500",
        "X-RateLimit-Reset-Tokens": "6m0s",
        "X-RateLimit-Limit": "999",  # the gateway sends its own under this name
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "5",
        "Set-Cookie": "session=abc",
        "x-request-id": "req_upstream",
        "openai-organization": "org-secret",
    }
    assert relayed_error_headers(upstream) == {
        "retry-after": "7",
        "retry-after-ms": "6500",
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-reset-tokens": "6m0s",
    }
