"""PostgreSQL backend: psycopg 3 with an async connection pool, for several gateway replicas.

Every public method borrows one pooled connection (autocommit; multi-statement writes open an
explicit transaction) and runs as its own task awaited through :func:`asyncio.shield`: like the
SQLite backend's worker thread, a caller cancelled while waiting (a client that disconnected
during settlement) does not roll back a charge that is already on its way.

Outages: the pool probes a connection that sat idle for over :data:`PROBE_IDLE_S` before lending
it (a busy pool skips the extra round trip), so connections broken by a database restart are
replaced instead of failing a request, and a database that is down makes each call
fail with :class:`opencompress.errors.StorageError` (HTTP 503) after at most ``pool_timeout``
seconds (a blip shorter than that is ridden out). The pool keeps reconnecting and recovers on
its own within about ``pool_timeout`` of the database coming back.

Pool settings ride on the URL as query parameters that are removed before the URL reaches libpq:
``pool_min_size`` (default 1), ``pool_max_size`` (10) and ``pool_timeout`` (seconds, 5). Anything
else in the URL is libpq's (``sslmode``, ``application_name``…).
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from opencompress.errors import InvalidRequestError, StorageError
from opencompress.storage import postgres_tx as tx
from opencompress.storage import rows
from opencompress.storage.base import (
    Account,
    ApiKey,
    KeyMode,
    LedgerEntry,
    Session,
    SettleResult,
    UsageDay,
    UsageRecord,
)
from opencompress.storage.migrate import apply_migrations

T = TypeVar("T")

MIGRATION_LOCK_ID = 727301
"""The advisory lock :mod:`opencompress.storage.migrate` takes per migration. Held here for the
whole run too (advisory locks are re-entrant within a session) so two replicas starting together
do not race on ``CREATE TABLE IF NOT EXISTS schema_migrations``, which is not atomic in PostgreSQL."""

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


class PostgresStorage:
    """:class:`opencompress.storage.base.Storage` on PostgreSQL (one pool per storage object).

    The pool is created on first use inside the running event loop (psycopg pools are bound to
    the loop that opened them); construction does no I/O.
    """

    def __init__(
        self, url: str, *, clock: Callable[[], float] = time.time, connect_timeout_s: int = 5
    ) -> None:
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

    # plumbing

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

    async def _run(self, fn: Callable[[tx.Conn], Awaitable[T]]) -> T:
        if self._closed:
            raise StorageError("storage is closed")
        task = asyncio.ensure_future(self._in_connection(fn))
        task.add_done_callback(_consume_exception)
        return await asyncio.shield(task)

    async def migrate(self) -> list[str]:
        if self._closed:
            raise StorageError("storage is closed")

        def run() -> list[str]:
            with tx.translate_errors():
                with psycopg.connect(
                    self.conninfo, autocommit=True, connect_timeout=self._connect_timeout_s
                ) as conn:
                    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
                    try:
                        return apply_migrations(conn.cursor(), "postgresql", clock=self._clock)
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))

        return await asyncio.to_thread(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1"))

    # accounts

    async def create_account(
        self, name: str, *, email: str | None = None, password_hash: str | None = None
    ) -> Account:
        account = Account(
            id=rows.new_id("acct_"), name=name, balance_micros=0, created_at=self._clock(), email=email
        )
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO accounts (id, name, email, password_hash, balance_micros, created_at) "
                "VALUES (%s, %s, %s, %s, 0, %s)",
                (account.id, name, email, password_hash, account.created_at),
            )
        )
        return account

    async def _one_account(self, column: str, value: str) -> Account | None:
        sql = f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE {column} = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (value,)))
        return None if row is None else rows.account_from_row(row)

    async def get_account(self, account_id: str) -> Account | None:
        return await self._one_account("id", account_id)

    async def get_account_by_email(self, email: str) -> Account | None:
        return await self._one_account("email", email)

    async def list_accounts(self) -> list[Account]:
        sql = f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id"
        return [rows.account_from_row(r) for r in await self._run(lambda conn: tx.fetchall(conn, sql))]

    async def count_accounts(self) -> int:
        row = await self._run(lambda conn: tx.fetchone(conn, "SELECT COUNT(*) FROM accounts"))
        return 0 if row is None else int(row[0])

    async def credit(self, account_id: str, amount_micros: int, reason: str) -> int:
        if amount_micros <= 0:
            raise InvalidRequestError("credit amount must be positive", param="amount")
        now = self._clock()
        return await self._run(lambda conn: tx.credit(conn, account_id, amount_micros, reason, now))

    # keys

    async def create_key(
        self,
        *,
        account_id: str,
        name: str,
        mode: KeyMode,
        key_hash: str,
        prefix: str,
        rpm_limit: int | None = None,
        concurrency_limit: int | None = None,
        compression_level: str | None = None,
        upstream_base_url: str | None = None,
        upstream_key_encrypted: bytes | None = None,
        max_active: int | None = None,
    ) -> ApiKey:
        key = ApiKey(
            id=rows.new_id("key_"),
            account_id=account_id,
            name=name,
            prefix=prefix,
            mode=mode,
            is_active=True,
            created_at=self._clock(),
            rpm_limit=rpm_limit,
            concurrency_limit=concurrency_limit,
            compression_level=compression_level,
            upstream_base_url=upstream_base_url,
            upstream_key_encrypted=upstream_key_encrypted,
        )
        await self._run(lambda conn: tx.create_key(conn, key, key_hash, max_active))
        return key

    async def _one_key(self, column: str, value: str) -> ApiKey | None:
        sql = f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE {column} = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (value,)))
        return None if row is None else rows.key_from_row(row)

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._one_key("id", key_id)

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._one_key("key_hash", key_hash)

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        sql = f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE account_id = %s ORDER BY created_at, id"
        return [
            rows.key_from_row(r) for r in await self._run(lambda conn: tx.fetchall(conn, sql, (account_id,)))
        ]

    async def revoke_key(self, key_id: str) -> bool:
        now = self._clock()

        async def run(conn: tx.Conn) -> bool:
            cur = await conn.execute(
                "UPDATE api_keys SET is_active = FALSE, revoked_at = %s WHERE id = %s AND is_active",
                (now, key_id),
            )
            return cur.rowcount > 0

        return await self._run(run)

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        if last_used:
            await self._run(lambda conn: tx.touch_keys(conn, last_used))

    # charging

    async def reserve(self, account_id: str, request_id: str, estimate_micros: int, *, ttl_s: float) -> int:
        now = self._clock()
        estimate = max(1, estimate_micros)
        return await self._run(
            lambda conn: tx.reserve(conn, account_id, request_id, estimate, now, now + ttl_s)
        )

    async def release(self, request_id: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM holds WHERE request_id = %s", (request_id,)))

    async def settle(self, usage: UsageRecord) -> SettleResult:
        if usage.charge_micros < 0:
            raise ValueError(f"negative charge for {usage.request_id}: {usage.charge_micros}")
        now = self._clock()
        return await self._run(lambda conn: tx.settle(conn, usage, now))

    # usage and ledger

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        sql = f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE request_id = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (request_id,)))
        return None if row is None else rows.usage_from_row(row)

    async def list_usage(
        self,
        account_id: str,
        *,
        limit: int = 50,
        before: tuple[float, str] | None = None,
        since: float | None = None,
        until: float | None = None,
        key_id: str | None = None,
        model: str | None = None,
    ) -> list[UsageRecord]:
        where, params = tx.usage_filters(account_id, since=since, until=until, key_id=key_id, model=model)
        if before is not None:
            where += " AND (created_at, request_id) < (%s, %s)"
            params += [before[0], before[1]]
        params.append(max(0, limit))
        sql = (
            f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE {where} "
            "ORDER BY created_at DESC, request_id DESC LIMIT %s"
        )
        return [rows.usage_from_row(r) for r in await self._run(lambda conn: tx.fetchall(conn, sql, params))]

    async def list_ledger(self, account_id: str, *, limit: int = 100) -> list[LedgerEntry]:
        sql = f"SELECT {rows.LEDGER_COLUMNS} FROM ledger WHERE account_id = %s ORDER BY id DESC LIMIT %s"
        found = await self._run(lambda conn: tx.fetchall(conn, sql, (account_id, max(0, limit))))
        return [rows.ledger_from_row(r) for r in found]

    async def usage_by_day(
        self,
        account_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        key_id: str | None = None,
        model: str | None = None,
    ) -> list[UsageDay]:
        where, params = tx.usage_filters(account_id, since=since, until=until, key_id=key_id, model=model)
        sql = (
            f"SELECT FLOOR(created_at / 86400)::BIGINT AS day, {rows.USAGE_DAY_SUMS} FROM usage "
            f"WHERE {where} GROUP BY day ORDER BY day"
        )
        return [
            rows.usage_day_from_row(r) for r in await self._run(lambda conn: tx.fetchall(conn, sql, params))
        ]

    # passwords and sessions

    async def get_password_hash(self, account_id: str) -> str | None:
        sql = "SELECT password_hash FROM accounts WHERE id = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (account_id,)))
        return None if row is None else row[0]

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self._run(lambda conn: tx.set_password_hash(conn, account_id, password_hash))

    async def create_session(self, *, token_hash: str, account_id: str, expires_at: float) -> Session:
        session = Session(
            token_hash=token_hash, account_id=account_id, created_at=self._clock(), expires_at=expires_at
        )
        return await self._run(lambda conn: tx.create_session(conn, session))

    async def get_session(self, token_hash: str) -> Session | None:
        sql = f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE token_hash = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (token_hash,)))
        return None if row is None else rows.session_from_row(row)

    async def delete_session(self, token_hash: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        )


def _consume_exception(task: asyncio.Future[Any]) -> None:
    """Mark a shielded task's error as seen when its caller was cancelled and never awaited it."""
    if not task.cancelled():
        task.exception()
