"""The composition root's product: everything a request needs, built once at startup.

No module globals: ``create_app(settings)`` builds an :class:`AppContext` in the lifespan and
routes reach it through ``app.state``. Background work that must outlive a request (settling a
stream whose client disconnected, coalesced ``last_used_at`` writes) goes through
:class:`BackgroundTasks`, so shutdown can wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from opencompress.accounts.byok import ByokCipher
from opencompress.accounts.key_manager import KeyManager
from opencompress.accounts.operator import OperatorService
from opencompress.accounts.service import AccountService
from opencompress.accounts.sessions import SessionService
from opencompress.accounts.ssrf import UpstreamGuard
from opencompress.accounts.usage import UsageService
from opencompress.billing.prices import PriceTable
from opencompress.config import Settings
from opencompress.gateway.holds import HoldRenewer
from opencompress.observability.metrics import GatewayMetrics
from opencompress.ratelimit.base import RateLimiter
from opencompress.storage.base import Storage
from opencompress.upstream.client import Upstream, UpstreamClient

log = logging.getLogger("opencompress.gateway")


class BackgroundTasks:
    """Strong references to fire-and-forget tasks, plus a way to wait for them on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the tasks, then cancel what is left and wait for that to
        unwind, so a settle still retrying logs its unbilled figures while logging still works
        (left to ``asyncio.run``'s final cancel, it vanished without a word)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        left = set(self._tasks)
        for task in left:
            task.cancel()
        if left:
            await asyncio.wait(left, timeout=5)

    def __len__(self) -> int:
        return len(self._tasks)


class KeyUsageCoalescer:
    """Collects ``last_used_at`` per key in memory; a background loop writes them in one batch.

    Keeps a write off the hot path: one UPDATE per key per flush interval, not per request."""

    def __init__(self, storage: Storage, interval_s: float = 5.0) -> None:
        self._storage = storage
        self._interval = interval_s
        self._pending: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, key_id: str, at: float) -> None:
        self._pending[key_id] = at

    async def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, {}
            await self._storage.touch_keys(pending)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - a failed flush is retried next tick, never fatal
                log.warning("could not record key last-used times", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Cancel the loop and write what is left. A database that is down at shutdown costs
        these timestamps only: raising here failed the whole lifespan exit, and storage and the
        upstream pool were left unclosed."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - last-used times are a convenience, never worth a failed exit
            log.warning("could not record key last-used times at shutdown", exc_info=True)


@dataclass(kw_only=True)
class AppContext:
    settings: Settings
    storage: Storage
    accounts: AccountService
    limiter: RateLimiter
    prices: PriceTable
    upstream_client: UpstreamClient
    default_upstream: Upstream
    simulated: bool
    key_usage: KeyUsageCoalescer
    byok: ByokCipher
    """Decrypts stored BYOK provider keys for forwarding (and encrypts new ones)."""
    upstream_guard: UpstreamGuard
    """SSRF guard for BYOK base URLs, stored or from ``x-upstream-base-url``."""
    sessions: SessionService
    key_manager: KeyManager
    usage: UsageService
    operator: OperatorService
    holds: HoldRenewer
    """Keeps the balance holds of in-flight requests alive (short TTL, renewed on a heartbeat)."""
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    active_streams: int = 0
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)

    def __post_init__(self) -> None:
        self.metrics.track_active_streams(lambda: self.active_streams)
        self.metrics.track_storage(self.storage.stats)
