"""SQLite backend: stdlib ``sqlite3`` on one dedicated worker thread per storage.

Why one thread: SQLite allows one writer at a time anyway, so a single-thread executor that owns
the connection serialises writes without lock contention, never blocks the event loop, and keeps
the prepared-statement cache warm. Every public method is one ``run_in_executor`` of a sync
function doing one transaction (``BEGIN IMMEDIATE`` for writes, so a write never has to upgrade a
read lock and fail with SQLITE_BUSY halfway). WAL with ``synchronous=NORMAL`` keeps commits off
``fsync`` (durable at checkpoints; a power cut may lose the last commits but never corrupts).

Several processes may share the file (e.g. ``serve`` and the CLI): ``busy_timeout`` makes them
wait for each other instead of failing.

A caller cancelled while awaiting does not cancel the transaction: once submitted it runs to the
end on the worker thread, which is what a charge needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from opencompress.errors import InvalidRequestError, NotFoundError, StorageError
from opencompress.storage import rows
from opencompress.storage import sqlite_tx as tx
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
from opencompress.storage.sqlite_checkpoint import WalCheckpointer

T = TypeVar("T")

MEMORY = ":memory:"


class SqliteStorage:
    """:class:`opencompress.storage.base.Storage` on a SQLite file (or ``:memory:``)."""

    def __init__(
        self, path: str, *, clock: Callable[[], float] = time.time, busy_timeout_ms: int = 5000
    ) -> None:
        self.path = path
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opencompress-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._closed = False

    # plumbing

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            if self.path != MEMORY:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=256)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA foreign_keys=ON")
            if self.path != MEMORY:  # checkpoints run on their own thread (see sqlite_checkpoint)
                conn.execute("PRAGMA wal_autocheckpoint=0")
                self._checkpointer = WalCheckpointer(self.path)
                self._checkpointer.start()
            self._conn = conn
        return self._conn

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with tx.translate_errors():
            return fn(self._connect())

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StorageError("storage is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    async def migrate(self) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            return apply_migrations(conn.cursor(), "sqlite", clock=self._clock)

        return await self._run(run)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

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

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # accounts

    async def create_account(
        self, name: str, *, email: str | None = None, password_hash: str | None = None
    ) -> Account:
        account = Account(
            id=rows.new_id("acct_"), name=name, balance_micros=0, created_at=self._clock(), email=email
        )

        def run(conn: sqlite3.Connection) -> Account:
            conn.execute(
                "INSERT INTO accounts (id, name, email, password_hash, balance_micros, created_at) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                (account.id, name, email, password_hash, account.created_at),
            )
            return account

        return await self._run(run)

    async def get_account(self, account_id: str) -> Account | None:
        return await self._run(partial(tx.one_account, "id", account_id))

    async def get_account_by_email(self, email: str) -> Account | None:
        return await self._run(partial(tx.one_account, "email", email))

    async def list_accounts(self) -> list[Account]:
        def run(conn: sqlite3.Connection) -> list[Account]:
            cur = conn.execute(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id")
            return [rows.account_from_row(r) for r in cur.fetchall()]

        return await self._run(run)

    async def count_accounts(self) -> int:
        return await self._run(lambda conn: int(conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]))

    async def credit(self, account_id: str, amount_micros: int, reason: str) -> int:
        if amount_micros <= 0:
            raise InvalidRequestError("credit amount must be positive", param="amount")
        now = self._clock()

        def run(conn: sqlite3.Connection) -> int:
            with tx.write(conn):
                row = conn.execute(
                    "UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? "
                    "RETURNING balance_micros",
                    (amount_micros, account_id),
                ).fetchone()
                if row is None:
                    raise NotFoundError(f"account {account_id} not found")
                conn.execute(
                    "INSERT INTO ledger (account_id, amount_micros, kind, reason, request_id, created_at) "
                    "VALUES (?, ?, 'credit', ?, NULL, ?)",
                    (account_id, amount_micros, reason, now),
                )
                return int(row[0])

        return await self._run(run)

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

        def run(conn: sqlite3.Connection) -> ApiKey:
            with tx.write(conn):
                if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
                    raise NotFoundError(f"account {account_id} not found")
                if max_active is not None:
                    (active,) = conn.execute(
                        "SELECT COUNT(*) FROM api_keys WHERE account_id = ? AND is_active", (account_id,)
                    ).fetchone()
                    if active >= max_active:
                        raise InvalidRequestError(
                            f"an account may have at most {max_active} active keys; revoke one first",
                            code="too_many_keys",
                        )
                conn.execute(
                    "INSERT INTO api_keys (id, account_id, name, prefix, key_hash, mode, is_active, "
                    "rpm_limit, concurrency_limit, compression_level, upstream_base_url, "
                    "upstream_key_encrypted, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?, ?, ?, ?)",
                    (
                        key.id,
                        account_id,
                        name,
                        prefix,
                        key_hash,
                        mode,
                        rpm_limit,
                        concurrency_limit,
                        compression_level,
                        upstream_base_url,
                        upstream_key_encrypted,
                        key.created_at,
                    ),
                )
            return key

        return await self._run(run)

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._run(partial(tx.one_key, "id", key_id))

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._run(partial(tx.one_key, "key_hash", key_hash))

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        def run(conn: sqlite3.Connection) -> list[ApiKey]:
            cur = conn.execute(
                f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id",
                (account_id,),
            )
            return [rows.key_from_row(r) for r in cur.fetchall()]

        return await self._run(run)

    async def revoke_key(self, key_id: str) -> bool:
        now = self._clock()

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE api_keys SET is_active = FALSE, revoked_at = ? WHERE id = ? AND is_active",
                (now, key_id),
            )
            return cur.rowcount > 0

        return await self._run(run)

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        params = [(ts, ts, key_id) for key_id, ts in last_used.items()]

        def run(conn: sqlite3.Connection) -> None:
            with tx.write(conn):
                conn.executemany(
                    "UPDATE api_keys SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? "
                    "THEN ? ELSE last_used_at END WHERE id = ?",
                    params,
                )

        await self._run(run)

    # charging

    async def reserve(self, account_id: str, request_id: str, estimate_micros: int, *, ttl_s: float) -> int:
        now = self._clock()
        return await self._run(
            partial(tx.reserve, account_id, request_id, max(1, estimate_micros), now, now + ttl_s)
        )

    async def release(self, request_id: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM holds WHERE request_id = ?", (request_id,)))

    async def settle(self, usage: UsageRecord) -> SettleResult:
        if usage.charge_micros < 0:
            raise ValueError(f"negative charge for {usage.request_id}: {usage.charge_micros}")
        return await self._run(partial(tx.settle, usage, self._clock()))

    # usage and ledger

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        def run(conn: sqlite3.Connection) -> UsageRecord | None:
            row = conn.execute(
                f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE request_id = ?", (request_id,)
            ).fetchone()
            return None if row is None else rows.usage_from_row(row)

        return await self._run(run)

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
        where = ["account_id = ?"]
        params: list[Any] = [account_id]
        if before is not None:
            where.append("(created_at < ? OR (created_at = ? AND request_id < ?))")
            params += [before[0], before[0], before[1]]
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if until is not None:
            where.append("created_at < ?")
            params.append(until)
        if key_id is not None:
            where.append("key_id = ?")
            params.append(key_id)
        if model is not None:
            where.append("model = ?")
            params.append(model)
        params.append(max(0, limit))
        sql = (
            f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, request_id DESC LIMIT ?"
        )

        def run(conn: sqlite3.Connection) -> list[UsageRecord]:
            return [rows.usage_from_row(r) for r in conn.execute(sql, params).fetchall()]

        return await self._run(run)

    async def list_ledger(self, account_id: str, *, limit: int = 100) -> list[LedgerEntry]:
        def run(conn: sqlite3.Connection) -> list[LedgerEntry]:
            cur = conn.execute(
                f"SELECT {rows.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id DESC LIMIT ?",
                (account_id, max(0, limit)),
            )
            return [rows.ledger_from_row(r) for r in cur.fetchall()]

        return await self._run(run)

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
        # created_at is never negative, so CAST (which truncates in SQLite) is floor().
        sql = (
            f"SELECT CAST(created_at / 86400 AS INTEGER) AS day, {rows.USAGE_DAY_SUMS} FROM usage "
            f"WHERE {where} GROUP BY day ORDER BY day"
        )

        def run(conn: sqlite3.Connection) -> list[UsageDay]:
            return [rows.usage_day_from_row(r) for r in conn.execute(sql, params).fetchall()]

        return await self._run(run)

    # passwords and sessions

    async def get_password_hash(self, account_id: str) -> str | None:
        def run(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT password_hash FROM accounts WHERE id = ?", (account_id,)).fetchone()
            return None if row is None else row[0]

        return await self._run(run)

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self._run(partial(tx.set_password_hash, account_id, password_hash))

    async def create_session(self, *, token_hash: str, account_id: str, expires_at: float) -> Session:
        session = Session(
            token_hash=token_hash, account_id=account_id, created_at=self._clock(), expires_at=expires_at
        )
        return await self._run(partial(tx.create_session, session))

    async def get_session(self, token_hash: str) -> Session | None:
        def run(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute(
                f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else rows.session_from_row(row)

        return await self._run(run)

    async def delete_session(self, token_hash: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)))
