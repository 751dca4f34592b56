"""PostgreSQL backend: psycopg 3 with an async connection pool, for several gateway replicas.

The repository methods; connections, outages and migrations are in
:mod:`opencompress.storage.postgres_pool`, the money transactions in
:mod:`opencompress.storage.postgres_tx`. Select it with ``OPENCOMPRESS_DATABASE_URL=postgresql://…``
(pool options as URL query parameters: see :mod:`opencompress.storage.postgres_pool`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from opencompress.storage import postgres_tx as tx
from opencompress.storage import rows
from opencompress.storage.base import (
    Account,
    ApiKey,
    LedgerEntry,
    Session,
    SettleResult,
    UsageDay,
    UsageRecord,
)
from opencompress.storage.common import StorageCommon
from opencompress.storage.postgres_pool import PROBE_IDLE_S, PgConnections, parse_postgres_url

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
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO accounts (id, name, email, password_hash, balance_micros, created_at) "
                "VALUES (%s, %s, %s, %s, 0, %s)",
                (account.id, account.name, account.email, password_hash, account.created_at),
            )
        )

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

    async def _credit(self, account_id: str, amount_micros: int, reason: str, now: float) -> int:
        return await self._run(lambda conn: tx.credit(conn, account_id, amount_micros, reason, now))

    # keys

    async def _insert_key(self, key: ApiKey, key_hash: str, max_active: int | None) -> None:
        await self._run(lambda conn: tx.create_key(conn, key, key_hash, max_active))

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

    async def _reserve(
        self, account_id: str, request_id: str, estimate_micros: int, now: float, expires_at: float
    ) -> int:
        return await self._run(
            lambda conn: tx.reserve(conn, account_id, request_id, estimate_micros, now, expires_at)
        )

    async def release(self, request_id: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM holds WHERE request_id = %s", (request_id,)))

    async def _settle(self, usage: UsageRecord, now: float) -> SettleResult:
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

    async def _insert_session(self, session: Session) -> None:
        await self._run(lambda conn: tx.create_session(conn, session))

    async def get_session(self, token_hash: str) -> Session | None:
        sql = f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE token_hash = %s"
        row = await self._run(lambda conn: tx.fetchone(conn, sql, (token_hash,)))
        return None if row is None else rows.session_from_row(row)

    async def extend_session(self, token_hash: str, expires_at: float) -> bool:
        async def run(conn: tx.Conn) -> bool:
            sql = "UPDATE sessions SET expires_at = %s WHERE token_hash = %s"
            return (await conn.execute(sql, (expires_at, token_hash))).rowcount > 0

        return await self._run(run)

    async def delete_session(self, token_hash: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        )
