"""The names of the headers the gateway itself puts on its answers, listed once.

CORS has to name each of them in ``Access-Control-Expose-Headers`` or browser scripts cannot
read them, so the exposed list is derived from :data:`RESPONSE_HEADERS` rather than written out
again. The values are set where answers are built (``gateway/chat.py``'s ``_response_headers``,
``gateway/limits.py``, ``RateLimitError``, the request observer); a test sends chat answers, a
429 and a built-in-simulator answer through CORS and fails when a header it sees is missing
here, so a new header cannot silently stay unreadable to browsers.
"""

from __future__ import annotations

REQUEST_ID = "x-request-id"
"""On every answer of the HTTP API, as OpenAI sends it; chat uses it as the completion id."""

COMPRESSION_HEADERS = (
    "x-opencompress-original-tokens",
    "x-opencompress-compressed-tokens",
    "x-opencompress-level",
    "x-opencompress-stages",
    "x-opencompress-compression",
    "x-opencompress-format",
    "x-opencompress-upstream",
)
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
RETRY_AFTER = "retry-after"

RESPONSE_HEADERS: tuple[str, ...] = (REQUEST_ID, *COMPRESSION_HEADERS, *RATE_LIMIT_HEADERS, RETRY_AFTER)
