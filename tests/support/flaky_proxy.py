"""Loopback TCP proxies that stand in for a bad network path.

:class:`FlakyProxy` slams the first N connections shut before any byte, then forwards (the one
retry on connection failure); :class:`CuttableProxy` can be cut and healed (a partition)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType


class _LoopProxy:
    """A loopback TCP server on its own event loop thread; subclasses implement ``_handle``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class FlakyProxy(_LoopProxy):
    def __init__(self, target_port: int, *, drop_first: int = 1) -> None:
        super().__init__(target_port)
        self.drop_first = drop_first
        self.connections = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.drop_first:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def __enter__(self) -> FlakyProxy:
        self._start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()


class CuttableProxy(_LoopProxy):
    """A loopback TCP proxy whose path can be cut and healed: a network partition.

    ``cut()`` aborts every open connection and every new one until ``heal()``. Unlike stopping
    the server (which loses its data) or SIGSTOP (which delivers buffered commands on resume), the
    commands sent while cut are lost, and the server keeps its state."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self._cut = False
        self._open: set[asyncio.StreamWriter] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._open.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self._cut:
                        break  # lost on the way
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._open.difference_update((writer, up_writer))

    def _set(self, cut: bool) -> None:
        self._cut = cut
        if cut:
            for writer in list(self._open):
                writer.transport.abort()

    def cut(self) -> None:
        done = threading.Event()
        self._loop.call_soon_threadsafe(lambda: (self._set(True), done.set()))
        done.wait(5)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(self._set, False)

    def __enter__(self) -> CuttableProxy:
        self._start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cut()  # let the pipes end before the loop stops
        self._stop()
