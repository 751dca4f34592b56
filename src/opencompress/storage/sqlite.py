"""SQLite backend: the repository methods over stdlib ``sqlite3``.

Where each call runs (inline on the event loop for short transactions, on a worker thread for
long, rare or contended ones) is :mod:`opencompress.storage.sqlite_conn`'s business; the money
transactions themselves are in :mod:`opencompress.storage.sqlite_tx`, and the read queries, shared
with PostgreSQL, in :mod:`opencompress.storage.reads`.

Settles that finish in the same loop iteration are written in one transaction (group commit,
:mod:`opencompress.storage.sqlite_settle_batch`); each charge is still whole inside it.

Balance holds live in this process, not in the ``holds`` table (which PostgreSQL uses): see
:mod:`opencompress.storage.process_holds` for why, and for the one-process-per-file limit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from opencompress.storage import rows
from opencompress.storage import sqlite_tx as tx
from opencompress.storage.base import (
    Account,
    ApiKey,
    Session,
    SettleResult,
    UsageRecord,
)
from opencompress.storage.common import StorageCommon
from opencompress.storage.migrate import apply_migrations
from opencompress.storage.process_holds import ProcessHolds
from opencompress.storage.reads import Row
from opencompress.storage.sqlite_conn import SqliteConnections
from opencompress.storage.sqlite_settle_batch import SettleBatcher

T = TypeVar("T")
_KEY_CACHE_SIZE = 10_000
"""Keys remembered at most (then forgotten all at once): far more than one gateway serves."""


def _one_row(
    sql: str, params: Sequence[Any], convert: Callable[[Row], T], conn: sqlite3.Connection
) -> T | None:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else convert(row)


def _all_rows(
    sql: str, params: Sequence[Any], convert: Callable[[Row], T], conn: sqlite3.Connection
) -> list[T]:
    return [convert(row) for row in conn.execute(sql, params).fetchall()]


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
        self._keys: dict[str, ApiKey] = {}
        """Keys found by hash, valid while ``_keys_version`` is the database's data version."""
        self._keys_version: int | None = None

    DAY_SQL = "CAST(created_at / 86400 AS INTEGER)"  # created_at >= 0, so truncation is floor()

    async def _select_one(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> T | None:
        return await self._short(partial(_one_row, sql, params, convert))

    async def _select_all(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> list[T]:
        return await self._run(partial(_all_rows, sql, params, convert))

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
        params = rows.account_insert_params(account, password_hash)
        await self._short(lambda conn: conn.execute(rows.INSERT_ACCOUNT, params))

    async def _insert_first_account(self, account: Account, key: ApiKey, key_hash: str, reason: str) -> bool:
        return await self._short(partial(tx.insert_first_account, account, key, key_hash, reason))

    async def _credit(self, account_id: str, amount_micros: int, reason: str, now: float) -> int:
        return await self._short(partial(tx.credit, account_id, amount_micros, reason, now))

    async def set_account_email(self, account_id: str, email: str) -> Account:
        return await self._short(partial(tx.set_account_email, account_id, email))

    # keys

    async def _insert_key(self, key: ApiKey, key_hash: str, max_active: int | None) -> None:
        await self._short(partial(tx.insert_key, key, key_hash, max_active))

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        """Every request looks its key up, and keys change rarely: found keys are remembered while
        the database is unchanged. ``PRAGMA data_version`` moves whenever another connection
        commits (another process's ``keys revoke``, or this process's worker thread), and this
        process forgets them itself whenever it changes a key, so a revocation still takes effect
        on the very next request. The check costs less than the indexed read it replaces."""
        version = self._data_version()
        if version is None:
            return await super().get_key_by_hash(key_hash)
        if version != self._keys_version:
            self._keys.clear()
            self._keys_version = version
        key = self._keys.get(key_hash)
        if key is None:
            key = await super().get_key_by_hash(key_hash)
            if key is not None and self._keys_version == version:
                if len(self._keys) >= _KEY_CACHE_SIZE:
                    self._keys.clear()
                self._keys[key_hash] = key
        return key

    def _data_version(self) -> int | None:
        """The loop connection's data version, or ``None`` when it cannot be read inline."""
        conn = self._inline_conn()
        if conn is None or self._closed:
            return None
        try:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return None

    def _forget_keys(self) -> None:
        self._keys.clear()
        self._keys_version = None

    async def revoke_key(self, key_id: str) -> bool:
        now = self._clock()

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE api_keys SET is_active = FALSE, revoked_at = ? WHERE id = ? AND is_active",
                (now, key_id),
            )
            return cur.rowcount > 0

        try:
            return await self._short(run)
        finally:
            self._forget_keys()  # after the write: a lookup may have run while it was on the worker

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        if not last_used:
            return
        self._forget_keys()
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

    async def _renew_holds(self, request_ids: Collection[str], now: float, expires_at: float) -> None:
        self._holds.renew(request_ids, now, expires_at)

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

    # passwords and sessions

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        await self._short(partial(tx.set_password_hash, account_id, password_hash))

    async def _insert_session(self, session: Session) -> None:
        await self._short(partial(tx.create_session, session))

    async def extend_session(self, token_hash: str, expires_at: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            sql = "UPDATE sessions SET expires_at = ? WHERE token_hash = ?"
            return conn.execute(sql, (expires_at, token_hash)).rowcount > 0

        return await self._short(run)

    async def delete_session(self, token_hash: str) -> None:
        await self._short(
            lambda conn: conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        )
