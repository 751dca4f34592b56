"""Balance holds with a short TTL, kept alive while their requests run.

A hold stops an account's concurrent requests from all spending the same balance (see
:mod:`opencompress.storage.base`). It needs an expiry for the case nothing else ends it: a gateway
replica that crashed mid-request never settles, and its holds would otherwise block the
account's money for good. A long fixed expiry (it was 15 minutes) makes that lock last as long,
and still cuts off a request that runs longer (a slow reasoning model, a long stream): its hold
lapses, and the money it will be charged can be spent twice.

So holds get a short TTL and the process that took them renews them on a heartbeat for as long
as their requests are in flight, the way the Redis limiter keeps its concurrency leases. A
crashed replica's holds free within :data:`HOLD_TTL_S`; a live request's hold never lapses.
"""

from __future__ import annotations

import asyncio
import logging

from opencompress.storage.base import Storage

log = logging.getLogger("opencompress.billing")

HOLD_TTL_S = 120.0
"""How long a hold outlives the last renewal of the process that took it."""
HOLD_RENEW_S = 30.0
"""Heartbeat period: a quarter of the TTL, so two missed beats (a busy database) still do not lapse it."""


class HoldRenewer:
    """The request ids whose holds this process must keep alive, and the heartbeat that does it."""

    def __init__(
        self, storage: Storage, *, ttl_s: float = HOLD_TTL_S, interval_s: float = HOLD_RENEW_S
    ) -> None:
        self._storage = storage
        self.ttl_s = ttl_s
        self._interval_s = interval_s
        self._in_flight: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    def track(self, request_id: str) -> None:
        self._in_flight.add(request_id)

    def forget(self, request_id: str) -> None:
        self._in_flight.discard(request_id)

    async def renew(self) -> None:
        if self._in_flight:
            await self._storage.renew_holds(frozenset(self._in_flight), ttl_s=self.ttl_s)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.renew()
            except Exception:  # noqa: BLE001 - retried next beat; the TTL leaves room for misses
                log.warning("could not renew the balance holds of in-flight requests", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="hold-renewal")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
