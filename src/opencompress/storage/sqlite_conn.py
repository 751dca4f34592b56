"""Where a SQLite call runs: inline on the event loop, or on the storage's worker thread.

Why inline: the gateway's per-request statements (key lookup, balance read, settle) are point
operations on indexed rows taking 8–60 µs each (WAL, ``synchronous=NORMAL``, so a commit does not
``fsync``). That is far below the few milliseconds above which the project moves work off the
loop, and a hop to a worker thread costs more than the statement: ~25 µs of loop-side
``run_in_executor`` plumbing, thread CPU, and a thread wake-up on the request's critical path.
So those methods run synchronously on a connection owned by the event-loop thread.

Why it never stalls the loop: that connection has ``busy_timeout=0``. If another connection holds
the write lock (the worker connection below, another storage on the same file, another process
such as the CLI), the call fails at once with SQLITE_BUSY instead of waiting; the failed attempt
changed nothing (every function in :mod:`opencompress.storage.sqlite_tx` is one transaction that
rolls back on any error, and writes take their lock up front with ``BEGIN IMMEDIATE``), so the same
function is simply run again on the worker thread, whose connection waits up to ``busy_timeout_ms``.
Lock waits therefore only ever happen on that thread.

The worker thread (one per storage, owning its own connection) also runs everything unbounded or
rare: listings and aggregates that grow with the data, migrations, ``ping`` and ``close``. It
opens the database first — WAL mode and the schema exist before the loop's connection is opened —
so a storage's first call always goes there. ``:memory:`` databases exist once per connection, so
there everything stays on the worker thread.

Cancellation cannot interrupt a charge half-way on either path: inline code runs to the end before
the loop can deliver a cancellation, and a call submitted to the worker runs to the end there.

WAL checkpoints run on a third thread (:mod:`opencompress.storage.sqlite_checkpoint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from opencompress.errors import StorageError
from opencompress.storage import sqlite_tx as tx
from opencompress.storage.sqlite_checkpoint import WalCheckpointer

T = TypeVar("T")

MEMORY = ":memory:"


class NotInline(Exception):  # noqa: N818 - a signal, not an error
    """The loop's connection cannot run the call now (not open yet, ``:memory:``, or locked)."""


def _create_private(path: str) -> None:
    """Create the database file owner-only (0600) when it does not exist yet.

    Why: the file holds argon2 password hashes, session hashes and encrypted BYOK keys, and
    SQLite would create it with the process umask (usually 0644: world-readable). SQLite gives
    the ``-wal`` and ``-shm`` files the database file's mode, so they follow. ``O_EXCL`` makes
    this a no-op for a file that already exists, so a file the operator set up (mode, group) is
    never changed; any other failure is left for :func:`sqlite3.connect` to report as usual."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(fd)


def _open(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    # check_same_thread=False only so close() may run anywhere; SqliteStorage itself keeps each
    # connection to its thread (the worker's to the executor, the loop's to _loop_thread).
    conn = sqlite3.connect(path, isolation_level=None, cached_statements=256, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    if path != MEMORY:  # checkpoints run on their own thread (see sqlite_checkpoint)
        conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


def _attempt(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn`` on the loop's connection; contention becomes :class:`NotInline`, after rolling back."""
    try:
        return fn(conn)
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            tx.rollback_open(conn)
        if tx.contended(exc):
            raise NotInline from exc
        raise tx.translate(exc) from exc
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            tx.rollback_open(conn)
        raise


class SqliteConnections:
    """The two connections of one SQLite storage (the loop's and the worker thread's) and the
    rules for which one a call uses. :class:`opencompress.storage.sqlite.SqliteStorage` builds
    the repository on top."""

    def __init__(self, path: str, *, busy_timeout_ms: int) -> None:
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opencompress-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._worker_ready = False
        """Set by the worker once its connection exists (never for ``:memory:``)."""
        self._loop_conn: sqlite3.Connection | None = None
        self._loop_thread: int | None = None
        self.inline_fallbacks = 0
        """Calls that met a lock on the loop's connection and were run on the worker thread."""
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        """The worker thread's connection (only ever called there)."""
        if self._conn is None:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                _create_private(self.path)
            conn = _open(self.path, self._busy_timeout_ms)
            conn.execute("PRAGMA journal_mode=WAL")
            if self.path != MEMORY:
                self._checkpointer = WalCheckpointer(self.path)
                self._checkpointer.start()
            self._conn = conn
            self._worker_ready = self.path != MEMORY
        return self._conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with tx.translate_errors():
            return fn(self._connect())

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on the worker thread: for long or rare work, and for contended short work."""
        if self._closed:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _inline_conn(self) -> sqlite3.Connection | None:
        """The calling thread's inline connection, or ``None`` where calls must use the worker:
        before the worker has opened the database, for ``:memory:``, and on any thread other than
        the one that opened it (a storage is normally used from one event loop)."""
        if not self._worker_ready:
            return None
        if self._loop_conn is None:
            try:
                self._loop_conn = _open(self.path, 0)
            except sqlite3.Error:
                return None
            self._loop_thread = threading.get_ident()
        elif self._loop_thread != threading.get_ident():
            return None
        return self._loop_conn

    def _inline(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` (one short transaction) on the loop's connection, or :class:`NotInline` when that
        connection is not available or another connection holds the lock."""
        if self._closed:
            raise StorageError("storage is closed")
        conn = self._inline_conn()
        if conn is None:
            raise NotInline
        try:
            return _attempt(conn, fn)
        except NotInline:
            self.inline_fallbacks += 1
            raise

    async def _short(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` (one short transaction) inline on the loop, on the worker thread if contended."""
        try:
            return self._inline(fn)
        except NotInline:
            return await self._run(fn)

    async def _close_connections(self) -> None:
        """Close both connections and the worker thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._loop_conn is not None:  # no call is using it: inline calls never span an await
            with contextlib.suppress(sqlite3.Error):
                self._loop_conn.close()
            self._loop_conn = None

        def shut() -> None:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            if self._conn is not None:
                if self.path != MEMORY:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                self._conn.close()
                self._conn = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=False)
