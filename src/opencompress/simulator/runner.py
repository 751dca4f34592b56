"""Run the simulator under a real uvicorn server: in a background thread (tests) or in the current loop.

Both runners bind the listening socket themselves before uvicorn starts, so ``port=0`` works and the
real port is known without a race. uvicorn is configured not to touch logging (the gateway's own
uvicorn config stays intact when ``serve`` embeds the simulator) and not to capture signals (Ctrl+C
belongs to the gateway's server; the embedded simulator is stopped by the gateway's shutdown).
uvicorn's lifecycle lines ("Started server process", "Shutting down", ...) go to the one module-level
``uvicorn.error`` logger whichever server logs them, so a filter keyed on a context variable that only
the simulator's serving task sets keeps the gateway's terminal from showing each of them twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import threading
import time
from collections.abc import Generator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from opencompress.simulator.app import create_app, get_state
from opencompress.simulator.generate import ENCODING
from opencompress.simulator.replay import default_recordings_dir
from opencompress.simulator.state import SimState
from opencompress.tokens import get_encoding

AUTO: Literal["auto"] = "auto"
RecordingsArg = str | Path | None | Literal["auto"]
STARTUP_TIMEOUT_S = 15.0

_SERVING = contextvars.ContextVar("opencompress_simulator_serving", default=False)
"""True inside the simulator's own uvicorn task (or thread), where its lifecycle lines come from."""


class _HostLifecycleOnly(logging.Filter):
    """Drops uvicorn's info lines logged by the simulator's server; its warnings and errors stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _SERVING.get()


_LIFECYCLE_FILTER = _HostLifecycleOnly()


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """``server.serve`` with its lifecycle lines marked as the simulator's (a task's own context)."""
    _SERVING.set(True)
    uvicorn_log = logging.getLogger("uvicorn.error")
    if _LIFECYCLE_FILTER not in uvicorn_log.filters:
        uvicorn_log.addFilter(_LIFECYCLE_FILTER)
    await server.serve(sockets=[sock])


class _Config(uvicorn.Config):
    def configure_logging(self) -> None:
        """Leave logging alone: the host process (gateway, pytest) owns it."""


class _QuietH11Protocol(H11Protocol):
    """h11 without access-log lines: the host's access log is for the gateway's own traffic."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _build(app: Starlette | None, recordings_dir: RecordingsArg, app_kwargs: dict[str, Any]) -> Starlette:
    if app is not None:
        return app
    directory = default_recordings_dir() if recordings_dir == AUTO else recordings_dir
    return create_app(recordings_dir=directory, **app_kwargs)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _server(app: Starlette, host: str, port: int) -> _Server:
    config = _Config(
        app,
        host=host,
        port=port,
        loop="asyncio",
        http=_QuietH11Protocol,
        ws="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=30,
    )
    return _Server(config)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _Addresses:
    """Where a running simulator answers, shared by the thread and the in-loop runner."""

    app: Starlette
    host: str
    port: int

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def state(self) -> SimState:
        return get_state(self.app)


class SimulatorThread(_Addresses):
    """The simulator on ``host`` (loopback) and a free port, served from a daemon thread.

    ``with SimulatorThread() as sim:`` returns once the port accepts connections. ``recordings_dir``
    defaults to :func:`default_recordings_dir` (``"auto"``); pass None to disable replays. Other
    keyword arguments go to :func:`create_app`, or pass a ready ``app``.
    """

    def __init__(
        self,
        *,
        app: Starlette | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        recordings_dir: RecordingsArg = AUTO,
        **app_kwargs: Any,
    ) -> None:
        self.app = _build(app, recordings_dir, app_kwargs)
        self.host = host
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self._server = _server(self.app, host, self.port)
        self._thread = threading.Thread(target=self._run, name=f"simulator-{self.port}", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await _serve(self._server, self._socket)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced by start(); a thread cannot raise to its creator
            self._error = exc

    def start(self) -> SimulatorThread:
        get_encoding(ENCODING)  # load the ranks now, not inside the first request (~0.5 s)
        self.state.reopen()
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"simulator thread died during startup: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Wake paced/hung responses, stop uvicorn and join the thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.state.begin_close)
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._socket.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RunningSimulator(_Addresses):
    """A simulator served as a task in the caller's event loop (what ``opencompress serve`` embeds)."""

    def __init__(
        self, app: Starlette, server: uvicorn.Server, task: asyncio.Task[None], host: str, port: int
    ):
        self.app = app
        self.host = host
        self.port = port
        self._server = server
        self._task = task

    async def stop(self, timeout: float = 10.0) -> None:
        self.state.begin_close()
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        if not self._task.done():
            self._task.cancel()


async def start_in_loop(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    app: Starlette | None = None,
    recordings_dir: RecordingsArg = AUTO,
    **app_kwargs: Any,
) -> RunningSimulator:
    """Start the simulator as a task in the running loop; returns once it accepts connections."""
    built = _build(app, recordings_dir, app_kwargs)
    await asyncio.to_thread(get_encoding, ENCODING)  # off the loop: the host keeps serving meanwhile
    get_state(built).reopen()
    sock = _bind(host, port)
    real_port: int = sock.getsockname()[1]
    server = _server(built, host, real_port)
    task = asyncio.create_task(_serve(server, sock), name=f"simulator-{real_port}")
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # re-raise the startup error
            raise RuntimeError("simulator exited during startup")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"simulator did not start within {STARTUP_TIMEOUT_S} s")
        await asyncio.sleep(0.005)
    return RunningSimulator(built, server, task, host, real_port)
