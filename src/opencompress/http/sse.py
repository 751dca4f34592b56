"""ASGI response that relays a :class:`ChatStream` and notices client disconnects promptly.

Starlette's ``StreamingResponse`` under ASGI spec 2.4 only learns of a disconnect when the next
write fails, which can be long after the client left a slow generation. Here a watcher awaits
``http.disconnect`` beside the pump; whichever finishes first cancels the other, and the stream is
always finished exactly once (upstream closed, billing scheduled, concurrency slot released).

Only the server cancels this task: uvicorn does when a graceful shutdown's time runs out. The
answer is then ended the documented way, with one ``data: {"error": …}`` event, instead of a bare
connection close that the client could not tell from a network failure (and that the ledger
recorded as the client leaving).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Receive, Scope, Send

from opencompress.gateway.chat import ChatStream


class SSEResponse:
    def __init__(self, stream: ChatStream, headers: dict[str, str]) -> None:
        self._stream = stream
        self._headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = False
        cut = False
        started = False

        async def pump() -> None:
            nonlocal started
            await send({"type": "http.response.start", "status": 200, "headers": self._headers})
            started = True
            async for chunk in self._stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        pump_task = asyncio.ensure_future(pump())
        watch_task = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({pump_task, watch_task}, return_when=asyncio.FIRST_COMPLETED)
            if not pump_task.done():
                disconnected = True
                pump_task.cancel()
            watch_task.cancel()
            try:
                await pump_task
            except (asyncio.CancelledError, OSError):
                disconnected = True
            with contextlib.suppress(asyncio.CancelledError):
                await watch_task
        except asyncio.CancelledError:
            cut = True  # the server's shutdown, not the client: end the answer properly below
        finally:
            if not pump_task.done():
                pump_task.cancel()
                disconnected = not cut
            watch_task.cancel()
            if cut:
                await self._cut_off(pump_task, send, started)
            self._stream.finish(client_disconnected=disconnected)

    async def _cut_off(self, pump_task: asyncio.Future[None], send: Send, started: bool) -> None:
        """Let the cancelled pump unwind, then close the answer with the shutdown's error event."""
        with contextlib.suppress(BaseException):
            await asyncio.wait({pump_task}, timeout=1)
            if started:
                await send(
                    {"type": "http.response.body", "body": self._stream.cut_off_event(), "more_body": True}
                )
                await send({"type": "http.response.body", "body": b"", "more_body": False})
