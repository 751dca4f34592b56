"""Noticing a client that leaves while the gateway is still waiting for the upstream's answer.

Nothing tells a handler that its client went away: uvicorn only records it, and a later write
is silently dropped. A client that gave up on a slow non-streaming answer (an SDK timeout, then
the SDK's retry) would leave the upstream generating in full. Streams have their own watcher
once they are relaying (:mod:`opencompress.http.sse`); this covers the wait before that.

Why a timer first: watching costs a task per request, which is measurable on the gateway's
sub-millisecond path, and a request answered within :data:`WATCH_AFTER_S` has nothing worth
cancelling. So the watcher only starts once a request has waited that long; a client that left
earlier is noticed at that moment, as uvicorn keeps answering ``http.disconnect`` once it has
seen one.

When it notices, it cancels the handler's task: the ``await`` on the upstream raises
``CancelledError``, the upstream connection is closed, and the gateway's cancellation paths
settle the request (nothing delivered, so nothing charged) and give back its slot and hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.types import Receive

WATCH_AFTER_S = 0.1


class DisconnectWatch:
    """Cancels the current task if the client disconnects; use as ``with DisconnectWatch(receive, note) as w``
    around awaits on the upstream, and read ``w.disconnected`` when ``CancelledError`` arrives."""

    def __init__(self, receive: Receive, on_disconnect: Callable[[], None]) -> None:
        """``on_disconnect`` runs just before the task is cancelled (to record why it was)."""
        self._receive = receive
        self._on_disconnect = on_disconnect
        self._task: asyncio.Task[object] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.disconnected = False

    def __enter__(self) -> DisconnectWatch:
        self._task = asyncio.current_task()
        self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_S, self._start)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop watching (the handler has its answer, or hands the connection to a stream)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def _start(self) -> None:
        self._timer = None
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
        self.disconnected = True
        self._watcher = None
        self._on_disconnect()
        if self._task is not None:
            self._task.cancel()

    def swallow(self) -> bool:
        """Inside ``except CancelledError``: ``True`` when the cancellation was this watch's own and
        nothing else asked for one, so the handler may end quietly (there is no one to answer)."""
        task = self._task
        return self.disconnected and task is not None and task.uncancel() == 0
