"""Prometheus metrics for one gateway app, on its own registry.

Each :class:`GatewayMetrics` owns a fresh ``CollectorRegistry`` (never the process-global default):
tests run several apps in one process and every app must expose only its own numbers, and a
library must not leak collectors into a host application's registry.

Label values are bounded on purpose. ``model`` comes from the client, so a value outside the
price table is reported as ``other`` (otherwise any caller could grow the registry without limit
by inventing model names); ``status`` is an HTTP status code and ``code``/``reason`` are the
gateway's own error codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RATIO_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
OTHER_MODEL = "other"
UNKNOWN_MODEL = "unknown"


class _StorageCollector(Collector):
    def __init__(self, read: Callable[[], Mapping[str, float]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "opencompress_storage",
            "Storage backend figures of this process by stat. SQLite: lock_retries, settle_commits "
            "and settled_charges (counts since start; charges per commit is the group-commit size), "
            "holds (in flight). PostgreSQL: pool_size, pool_available, requests_waiting.",
            labels=["stat"],
        )
        for name, value in sorted(self._read().items()):
            family.add_metric([name], value)
        yield family


class GatewayMetrics:
    """The gateway's collectors. Recording methods are cheap and never raise into request code."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "opencompress_requests",
            "Chat completion requests by HTTP status sent to the client and model",
            ["model", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "opencompress_request_duration_seconds",
            "Chat completion time inside the gateway, from the request's start to the last byte "
            "(streams: until the stream ended)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttfb_seconds = Histogram(
            "opencompress_upstream_ttfb_seconds",
            "Time from the request's start to the upstream's first response byte",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.compression_ratio = Histogram(
            "opencompress_compression_ratio",
            "Compressed / original prompt tokens per forwarded request (1.0 = nothing removed)",
            buckets=RATIO_BUCKETS,
            registry=r,
        )
        self.tokens_saved = Counter(
            "opencompress_tokens_saved",
            "Prompt tokens removed by compression (o200k counts, original minus compressed)",
            registry=r,
        )
        self.upstream_errors = Counter(
            "opencompress_upstream_errors",
            "Upstream failures by the gateway's error code (before or during the answer)",
            ["code"],
            registry=r,
        )
        self.rate_limited = Counter(
            "opencompress_rate_limit_rejections",
            "Requests refused with 429 by the gateway's own limiter, by the limit that was hit",
            ["reason"],
            registry=r,
        )
        self.charged_micros = Counter(
            "opencompress_charged_micros",
            "Micro-dollars actually charged to balances (after the cap at the available balance)",
            registry=r,
        )
        self.uncollected_micros = Counter(
            "opencompress_uncollected_micros",
            "Micro-dollars the billing formula asked for but the balance could not cover (the charge is"
            " capped at the balance; a request is never cut off)",
            registry=r,
        )
        self.active_streams = Gauge(
            "opencompress_active_streams", "Streaming responses being relayed right now", registry=r
        )

    def track_active_streams(self, read: Callable[[], float]) -> None:
        """Report the gauge from ``read()`` at scrape time (no bookkeeping on the hot path)."""
        self.active_streams.set_function(read)

    def track_storage(self, read: Callable[[], Mapping[str, float]]) -> None:
        """Report ``opencompress_storage{stat=…}`` from ``read()`` (``Storage.stats``) at scrape
        time. The stat names are the backend's own, a small fixed set per backend."""
        self.registry.register(_StorageCollector(read))

    @staticmethod
    def model_label(model: str | None, canonical: Callable[[str], str | None]) -> str:
        """``canonical(model)`` (the price table's name) or ``other``: a bounded label set."""
        if not model:
            return UNKNOWN_MODEL
        return canonical(model) or OTHER_MODEL

    def count_request(self, *, model: str, status: int, seconds: float | None) -> None:
        self.requests.labels(model=model, status=str(status)).inc()
        if seconds is not None:
            self.request_seconds.observe(max(0.0, seconds))

    def count_forwarded(
        self, *, original_tokens: int, compressed_tokens: int, ttfb_s: float | None, charged_micros: int
    ) -> None:
        """Figures of a request that reached the upstream and was settled."""
        if original_tokens > 0:
            self.compression_ratio.observe(compressed_tokens / original_tokens)
        saved = original_tokens - compressed_tokens
        if saved > 0:
            self.tokens_saved.inc(saved)
        if ttfb_s is not None:
            self.ttfb_seconds.observe(max(0.0, ttfb_s))
        if charged_micros > 0:
            self.charged_micros.inc(charged_micros)

    def count_upstream_error(self, code: str) -> None:
        self.upstream_errors.labels(code=code).inc()

    def count_rate_limited(self, reason: str) -> None:
        self.rate_limited.labels(reason=reason).inc()

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
