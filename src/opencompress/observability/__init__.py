"""Metrics (Prometheus, one registry per app) and structured, redacted logs (JSON lines, or text
for a terminal with ``OPENCOMPRESS_LOG_FORMAT=text``).

No web imports: the HTTP layer mounts :class:`~opencompress.observability.requests.RequestObserver`
(plain ASGI) and serves :meth:`GatewayMetrics.render`; billing reports settled requests through
:func:`~opencompress.observability.requests.finish_settled`.
"""

from opencompress.observability.logs import (
    CURRENT_REQUEST,
    RequestScope,
    configure_logging,
    current_request,
    current_request_id,
    redact,
)
from opencompress.observability.metrics import GatewayMetrics

__all__ = [
    "CURRENT_REQUEST",
    "GatewayMetrics",
    "RequestScope",
    "configure_logging",
    "current_request",
    "current_request_id",
    "redact",
]
