"""SQLite backend: the repository methods over stdlib ``sqlite3``.

Where each call runs (inline on the event loop for short transactions, on a worker thread for
long, rare or contended ones) is :mod:`opencompress.storage.sqlite_conn`'s business; the money
transactions themselves are in :mod:`opencompress.storage.sqlite_tx`.

Settles that finish in the same loop iteration are written in one transaction (group commit,
:mod:`opencompress.storage.sqlite_settle_batch`); each charge is still whole inside it.

Balance holds live in this process, not in the ``holds`` table (which PostgreSQL uses): see
:mod:`opencompress.storage.process_holds` for why, and for the one-process-per-file limit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import TypeVar

from opencompress.storage import rows
from opencompress.storage import sqlite_tx as tx
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
from opencompress.storage.migrate import apply_migrations
from opencompress.storage.process_holds import ProcessHolds
from opencompress.storage.sqlite_conn import SqliteConnections
from opencompress.storage.sqlite_settle_batch import SettleBatcher

T = TypeVar("T")


def _first_column(row: tuple[str | None]) -> str | None:
    return row[0]


class SqliteStorage(SqliteConnections, StorageCommon):
    """:class:`opencompress.storage.base.Storage` on a SQLite file (or ``:memory:``)."""

    def __init__(
        self, path: str, *, clock: Callable[[], float] = time.time, busy_timeout_ms: int = 5000
    ) -> None:
        super().__init__(path, busy_timeout_ms=busy_timeout_ms)
        self._clock = clock
        self._holds = ProcessHolds()
        """Balance holds of this process's in-flight requests (see storage/process_holds.py)."""
        self._charged: dict[str, int] = {}
        """Micro-dollars charged per account by this process, a running sum: lets a reserve whose
        balance read left the loop tell whether a charge landed meanwhile."""
        self._batcher = SettleBatcher(inline=self._inline, alone=self._settle_alone, settled=self._settled)

    async def migrate(self) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            return apply_migrations(conn.cursor(), "sqlite", clock=self._clock)

        return await self._run(run)

    async def close(self) -> None:
        if not self._closed:
            self._batcher.flush()  # charges queued in this loop iteration are written, not dropped
        await self._close_connections()

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    def stats(self) -> Mapping[str, float]:
        return {
            "lock_retries": self.inline_fallbacks,
            "settle_commits": self._batcher.commits,
            "settled_charges": self._batcher.charges,
            "holds": len(self._holds),
        }

    # accounts

    async def _insert_account(self, account: Account, password_hash: str | None) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO accounts (id, name, email, password_hash, balance_micros, created_at) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                (account.id, account.name, account.email, password_hash, account.created_at),
            )

        await self._short(run)

    async def get_account(self, account_id: str) -> Account | None:
        return await self._short(partial(tx.one_account, "id", account_id))

    async def get_account_by_email(self, email: str) -> Account | None:
        return await self._short(partial(tx.one_account, "email", email))

    async def list_accounts(self) -> list[Account]:
        def run(conn: sqlite3.Connection) -> list[Account]:
            cur = conn.execute(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id")
            return [rows.account_from_row(r) for r in cur.fetchall()]

        return await self._run(run)

    async def count_accounts(self) -> int:
        return await self._run(lambda conn: int(conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]))

    async def _credit(self, account_id: str, amount_micros: int, reason: str, now: float) -> int:
        return await self._short(partial(tx.credit, account_id, amount_micros, reason, now))

    # keys

    async def _insert_key(self, key: ApiKey, key_hash: str, max_active: int | None) -> None:
        await self._short(partial(tx.insert_key, key, key_hash, max_active))

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._short(partial(tx.one_key, "id", key_id))

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._short(partial(tx.one_key, "key_hash", key_hash))

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

        return await self._short(run)

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

        await self._short(run)

    # charging

    async def _reserve(
        self, account_id: str, request_id: str, estimate_micros: int, now: float, expires_at: float
    ) -> int:
        existing = self._holds.get(request_id)
        if existing is not None:
            return existing
        charged_before = self._charged.get(account_id, 0)
        balance = await self._short(partial(tx.balance, account_id))
        # From here to add() nothing awaits, so no other request's hold or settle interleaves.
        existing = self._holds.get(request_id)
        if existing is not None:
            return existing
        # A charge settled while the read was away from the loop (it only leaves it when contended)
        # may or may not be in `balance`, but its hold is gone: count it as spent to stay safe.
        landed = self._charged.get(account_id, 0) - charged_before
        available = balance - landed - self._holds.held(account_id, now)
        if available <= 0:
            return 0
        amount = min(estimate_micros, available)
        self._holds.add(request_id, account_id, amount, expires_at)
        return amount

    async def release(self, request_id: str) -> None:
        self._holds.pop(request_id)

    async def _settle(self, usage: UsageRecord, now: float) -> SettleResult:
        return await self._batcher.settle(usage, now)

    async def _settle_alone(self, usage: UsageRecord, now: float, inline_first: bool) -> SettleResult:
        fn = partial(tx.settle, usage, now)
        return await (self._short(fn) if inline_first else self._run(fn))

    def _settled(self, usage: UsageRecord, result: SettleResult) -> None:
        """Right after a charge's COMMIT (no await in between): only now may its hold stop
        counting, and a reserve that is reading the balance meanwhile learns what landed."""
        if not result.duplicate and result.charged_micros:
            account = usage.account_id
            self._charged[account] = self._charged.get(account, 0) + result.charged_micros
        self._holds.pop(usage.request_id)

    # usage and ledger

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        sql = f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE request_id = ?"
        return await self._short(partial(tx.one, sql, request_id, rows.usage_from_row))

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
            where += " AND (created_at < ? OR (created_at = ? AND request_id < ?))"
            params += [before[0], before[0], before[1]]
        params.append(max(0, limit))
        sql = (
            f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE {where} "
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
        sql = "SELECT password_hash FROM accounts WHERE id = ?"
        return await self._short(partial(tx.one, sql, account_id, _first_column))

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self._short(partial(tx.set_password_hash, account_id, password_hash))

    async def _insert_session(self, session: Session) -> None:
        await self._short(partial(tx.create_session, session))

    async def get_session(self, token_hash: str) -> Session | None:
        sql = f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE token_hash = ?"
        return await self._short(partial(tx.one, sql, token_hash, rows.session_from_row))

    async def extend_session(self, token_hash: str, expires_at: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            sql = "UPDATE sessions SET expires_at = ? WHERE token_hash = ?"
            return conn.execute(sql, (expires_at, token_hash)).rowcount > 0

        return await self._short(run)

    async def delete_session(self, token_hash: str) -> None:
        await self._short(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        )
