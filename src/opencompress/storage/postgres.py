"""PostgreSQL backend: psycopg 3 with an async connection pool, for several gateway replicas.

The repository methods; connections, outages and migrations are in
:mod:`opencompress.storage.postgres_pool`, the money transactions in
:mod:`opencompress.storage.postgres_tx`, and the read queries, shared with SQLite, in
:mod:`opencompress.storage.reads`. Select it with ``OPENCOMPRESS_DATABASE_URL=postgresql://…``
(pool options as URL query parameters: see :mod:`opencompress.storage.postgres_pool`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from opencompress.storage import postgres_tx as tx
from opencompress.storage import rows
from opencompress.storage.base import (
    Account,
    ApiKey,
    Session,
    SettleResult,
    UsageRecord,
)
from opencompress.storage.common import StorageCommon
from opencompress.storage.postgres_pool import PROBE_IDLE_S, PgConnections, parse_postgres_url
from opencompress.storage.reads import Row

__all__ = ["PROBE_IDLE_S", "PostgresStorage", "parse_postgres_url"]

T = TypeVar("T")


class PostgresStorage(StorageCommon):
    """:class:`opencompress.storage.base.Storage` on PostgreSQL (one pool per storage object).

    The pool is created on first use inside the running event loop (psycopg pools are bound to
    the loop that opened them); construction does no I/O.
    """

    def __init__(
        self, url: str, *, clock: Callable[[], float] = time.time, connect_timeout_s: int = 5
    ) -> None:
        self._db = PgConnections(url, clock=clock, connect_timeout_s=connect_timeout_s)
        self.conninfo = self._db.conninfo
        self._clock = clock

    async def _run(self, fn: Callable[[tx.Conn], Awaitable[T]]) -> T:
        return await self._db.run(fn)

    DAY_SQL = "FLOOR(created_at / 86400)::BIGINT"

    async def _select_one(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> T | None:
        pg_sql = sql.replace("?", "%s")
        row = await self._run(lambda conn: tx.fetchone(conn, pg_sql, list(params)))
        return None if row is None else convert(row)

    async def _select_all(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> list[T]:
        pg_sql = sql.replace("?", "%s")
        return [convert(row) for row in await self._run(lambda conn: tx.fetchall(conn, pg_sql, list(params)))]

    async def migrate(self) -> list[str]:
        return await self._db.migrate()

    def stats(self) -> Mapping[str, float]:
        return dict(self._db.pool_stats())

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1"))

    # accounts

    async def _insert_account(self, account: Account, password_hash: str | None) -> None:
        params = rows.account_insert_params(account, password_hash)
        await self._run(lambda conn: conn.execute(tx.INSERT_ACCOUNT, params))

    async def _insert_first_account(self, account: Account, key: ApiKey, key_hash: str, reason: str) -> bool:
        return await self._run(lambda conn: tx.insert_first_account(conn, account, key, key_hash, reason))

    async def _credit(self, account_id: str, amount_micros: int, reason: str, now: float) -> int:
        return await self._run(lambda conn: tx.credit(conn, account_id, amount_micros, reason, now))

    async def set_account_email(self, account_id: str, email: str) -> Account:
        return await self._run(lambda conn: tx.set_account_email(conn, account_id, email))

    # keys

    async def _insert_key(self, key: ApiKey, key_hash: str, max_active: int | None) -> None:
        await self._run(lambda conn: tx.create_key(conn, key, key_hash, max_active))

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

    async def _reserve(
        self, account_id: str, request_id: str, estimate_micros: int, now: float, expires_at: float
    ) -> int:
        return await self._run(
            lambda conn: tx.reserve(conn, account_id, request_id, estimate_micros, now, expires_at)
        )

    async def release(self, request_id: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM holds WHERE request_id = %s", (request_id,)))

    async def _renew_holds(self, request_ids: Collection[str], now: float, expires_at: float) -> None:
        ids = list(request_ids)
        await self._run(
            lambda conn: conn.execute(
                "UPDATE holds SET expires_at = %s WHERE request_id = ANY(%s) AND expires_at > %s",
                (expires_at, ids, now),
            )
        )

    async def _settle(self, usage: UsageRecord, now: float) -> SettleResult:
        return await self._run(lambda conn: tx.settle(conn, usage, now))

    # usage and ledger

    # passwords and sessions

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self._run(lambda conn: tx.set_password_hash(conn, account_id, password_hash))

    async def _insert_session(self, session: Session) -> None:
        await self._run(lambda conn: tx.create_session(conn, session))

    async def extend_session(self, token_hash: str, expires_at: float) -> bool:
        async def run(conn: tx.Conn) -> bool:
            sql = "UPDATE sessions SET expires_at = %s WHERE token_hash = %s"
            return (await conn.execute(sql, (expires_at, token_hash))).rowcount > 0

        return await self._run(run)

    async def delete_session(self, token_hash: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        )
