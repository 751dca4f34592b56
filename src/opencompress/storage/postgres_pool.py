"""Connection plumbing of the PostgreSQL backend: URL options, the async pool, migrations.

Kept apart from :mod:`opencompress.storage.postgres` (the repository methods) and
:mod:`opencompress.storage.postgres_tx` (the transactions) so how connections are lent, probed
and recovered after an outage reads in one place.

Every call borrows one pooled connection (autocommit; multi-statement writes open an explicit
transaction) and runs as its own task awaited through :func:`asyncio.shield`: like the SQLite
backend's worker thread, a caller cancelled while waiting (a client that disconnected during
settlement) does not roll back a charge that is already on its way.

Outages: the pool probes a connection that sat idle for over :data:`PROBE_IDLE_S` before lending
it (a busy pool skips the extra round trip), and one broken connection purges its idle siblings,
so a database restart fails no request. A database that is down makes each call fail with
:class:`opencompress.errors.StorageError` (HTTP 503) after at most ``pool_timeout`` seconds (a
blip shorter than that is ridden out); the pool recovers on its own within about
``pool_timeout`` of the database coming back.

Pool settings ride on the URL as query parameters that are removed before the URL reaches libpq:
``pool_min_size`` (default 1), ``pool_max_size`` (10) and ``pool_timeout`` (seconds, 5). Anything
else in the URL is libpq's (``sslmode``, ``application_name``…).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from opencompress.errors import StorageError
from opencompress.storage import postgres_tx as tx
from opencompress.storage.migrate import MIGRATION_LOCK_ID, apply_migrations

T = TypeVar("T")

# MIGRATION_LOCK_ID is the advisory lock the migration runner takes per migration. The pool holds
# it for the whole run too (advisory locks are re-entrant within a session) so two replicas starting
# together do not race on ``CREATE TABLE IF NOT EXISTS schema_migrations``, which is not atomic in
# PostgreSQL.

PROBE_IDLE_S = 1.0
"""A pooled connection idle longer than this is checked with an empty query before it is lent."""

POOL_OPTIONS = {"pool_min_size": 1, "pool_max_size": 10, "pool_timeout": 5.0}


def parse_postgres_url(url: str) -> tuple[str, dict[str, float]]:
    """``(libpq URL, pool options)``: drops a ``+driver`` suffix and the ``pool_*`` query parameters."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    options: dict[str, float] = {name: float(value) for name, value in POOL_OPTIONS.items()}
    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in POOL_OPTIONS:
            try:
                options[name] = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number in the database URL, got {value!r}") from None
        else:
            kept.append((name, value))
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), parts.fragment)), options


class PgConnections:
    """One lazily opened pool (created inside the running loop: psycopg pools are loop-bound)."""

    def __init__(self, url: str, *, clock: Callable[[], float], connect_timeout_s: int = 5) -> None:
        self.conninfo, options = parse_postgres_url(url)
        self._min_size = max(0, int(options["pool_min_size"]))
        self._max_size = max(1, self._min_size, int(options["pool_max_size"]))
        self._pool_timeout_s = options["pool_timeout"]
        self._connect_timeout_s = connect_timeout_s
        self._clock = clock
        self._pool: AsyncConnectionPool[tx.Conn] | None = None
        self._returned_at: weakref.WeakKeyDictionary[tx.Conn, float] = weakref.WeakKeyDictionary()
        self._opening: asyncio.Lock | None = None
        self._closed = False

    def pool_stats(self) -> dict[str, int]:
        """Size, idle connections and waiting requests of the pool (empty before first use)."""
        if self._pool is None:
            return {}
        stats = self._pool.get_stats()
        return {name: stats.get(name, 0) for name in ("pool_size", "pool_available", "requests_waiting")}

    async def _get_pool(self) -> AsyncConnectionPool[tx.Conn]:
        if self._pool is not None:
            return self._pool
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                pool: AsyncConnectionPool[tx.Conn] = AsyncConnectionPool(
                    self.conninfo,
                    min_size=self._min_size,
                    max_size=self._max_size,
                    timeout=self._pool_timeout_s,
                    kwargs={"autocommit": True, "connect_timeout": self._connect_timeout_s},
                    check=self._check,
                    reset=self._stamp,
                    # Give up a failing reconnection after one pool timeout (instead of backing off
                    # for minutes): the next request then starts a fresh attempt at once, so the
                    # pool is back within about ``pool_timeout`` of the database.
                    reconnect_timeout=max(1.0, self._pool_timeout_s),
                    name="opencompress",
                    open=False,
                )
                await pool.open(wait=False)
                self._pool = pool
        return self._pool

    async def _check(self, conn: tx.Conn) -> None:
        """The pool's ``check`` callback: probe a connection that sat idle before lending it."""
        if time.monotonic() - self._returned_at.get(conn, -math.inf) <= PROBE_IDLE_S:
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            await self._purge_broken()
            raise

    async def _purge_broken(self) -> None:
        """One broken connection means the server restarted or dropped us, so the other idle ones
        are broken too: check them all now. Otherwise the pool's getconn retries them one by one
        with exponential backoff (1 s, 2 s…) and the first request after a restart times out."""
        if self._pool is not None:
            await self._pool.check()

    async def _stamp(self, conn: tx.Conn) -> None:
        """The pool's ``reset`` callback (runs when a connection comes back): note when."""
        self._returned_at[conn] = time.monotonic()

    async def _in_connection(self, fn: Callable[[tx.Conn], Awaitable[T]]) -> T:
        with tx.translate_errors():
            pool = await self._get_pool()
            async with pool.connection() as conn:
                try:
                    return await fn(conn)
                except psycopg.OperationalError:
                    if conn.broken:  # used too recently to be probed; clear out its stale siblings
                        await self._purge_broken()
                    raise

    async def run(self, fn: Callable[[tx.Conn], Awaitable[T]]) -> T:
        if self._closed:
            raise StorageError("storage is closed")
        task = asyncio.ensure_future(self._in_connection(fn))
        task.add_done_callback(_consume_exception)
        return await asyncio.shield(task)

    async def migrate(self) -> list[str]:
        if self._closed:
            raise StorageError("storage is closed")

        def apply() -> list[str]:
            with tx.translate_errors():
                with psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=self._connect_timeout_s
                ) as conn:
                    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
                    try:
                        return apply_migrations(conn.cursor(), "postgresql", clock=self._clock)
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))

        return await asyncio.to_thread(apply)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def _consume_exception(task: asyncio.Future[Any]) -> None:
    """Mark a shielded task's error as seen when its caller was cancelled and never awaited it."""
    if not task.cancelled():
        task.exception()
