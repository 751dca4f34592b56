"""The storage's read queries, written once for both SQL backends.

Reads are where the backends do not differ: the same SELECT over the same columns, converted by
the same row converters (:mod:`opencompress.storage.rows`). A backend only says how a query
reaches its database, through two hooks: :meth:`StorageReads._select_one` for point lookups on
the request path (SQLite runs them inline on the event loop) and
:meth:`StorageReads._select_all` for listings and aggregates that grow with the data (SQLite runs
them on its worker thread). Placeholders are written ``?``; the PostgreSQL backend turns them
into ``%s``, so no query here may contain a literal ``?`` or ``%``. The one dialect difference, the
day number of a timestamp, is :attr:`StorageReads.DAY_SQL`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from opencompress.storage import rows
from opencompress.storage.base import Account, ApiKey, LedgerEntry, Session, UsageDay, UsageRecord

T = TypeVar("T")
Row = Sequence[Any]


def usage_filters(
    account_id: str,
    *,
    since: float | None,
    until: float | None,
    key_id: str | None,
    model: str | None,
) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (without the keyword) and parameters of a filtered usage query."""
    where = ["account_id = ?"]
    params: list[Any] = [account_id]
    for clause, value in (
        ("created_at >= ?", since),
        ("created_at < ?", until),
        ("key_id = ?", key_id),
        ("model = ?", model),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    return " AND ".join(where), params


def _first(row: Row) -> Any:
    return row[0]


class StorageReads(ABC):
    DAY_SQL: ClassVar[str]
    """SQL for the UTC day number (days since the epoch) of ``created_at``."""

    @abstractmethod
    async def _select_one(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> T | None:
        """The first row ``sql`` selects, converted, or ``None``: a point lookup."""

    @abstractmethod
    async def _select_all(self, sql: str, params: Sequence[Any], convert: Callable[[Row], T]) -> list[T]:
        """Every row ``sql`` selects, converted: a listing or an aggregate."""

    # accounts

    async def get_account(self, account_id: str) -> Account | None:
        sql = f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"
        return await self._select_one(sql, (account_id,), rows.account_from_row)

    async def get_account_by_email(self, email: str) -> Account | None:
        sql = f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE email = ?"
        return await self._select_one(sql, (email,), rows.account_from_row)

    async def list_accounts(self) -> list[Account]:
        sql = f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id"
        return await self._select_all(sql, (), rows.account_from_row)

    async def count_accounts(self) -> int:
        counted = await self._select_all("SELECT COUNT(*) FROM accounts", (), _first)
        return int(counted[0]) if counted else 0

    # keys

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._select_one(
            f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,), rows.key_from_row
        )

    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None:
        sql = f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE key_hash = ?"
        return await self._select_one(sql, (key_hash,), rows.key_from_row)

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        sql = f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE account_id = ? ORDER BY created_at, id"
        return await self._select_all(sql, (account_id,), rows.key_from_row)

    # usage and ledger

    async def get_usage(self, request_id: str) -> UsageRecord | None:
        sql = f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE request_id = ?"
        return await self._select_one(sql, (request_id,), rows.usage_from_row)

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
        where, params = usage_filters(account_id, since=since, until=until, key_id=key_id, model=model)
        if before is not None:
            # A row-value comparison: both databases seek the (account, created_at, request_id)
            # index to the cursor instead of scanning every newer row.
            where += " AND (created_at, request_id) < (?, ?)"
            params += [before[0], before[1]]
        params.append(max(0, limit))
        sql = (
            f"SELECT {rows.USAGE_COLUMNS} FROM usage WHERE {where} "
            "ORDER BY created_at DESC, request_id DESC LIMIT ?"
        )
        return await self._select_all(sql, params, rows.usage_from_row)

    async def list_ledger(self, account_id: str, *, limit: int = 100) -> list[LedgerEntry]:
        sql = f"SELECT {rows.LEDGER_COLUMNS} FROM ledger WHERE account_id = ? ORDER BY id DESC LIMIT ?"
        return await self._select_all(sql, (account_id, max(0, limit)), rows.ledger_from_row)

    async def usage_by_day(
        self,
        account_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        key_id: str | None = None,
        model: str | None = None,
    ) -> list[UsageDay]:
        where, params = usage_filters(account_id, since=since, until=until, key_id=key_id, model=model)
        sql = (
            f"SELECT {self.DAY_SQL} AS day, {rows.USAGE_DAY_SUMS} FROM usage "
            f"WHERE {where} GROUP BY day ORDER BY day"
        )
        return await self._select_all(sql, params, rows.usage_day_from_row)

    # passwords and sessions

    async def get_password_hash(self, account_id: str) -> str | None:
        found: str | None = await self._select_one(
            "SELECT password_hash FROM accounts WHERE id = ?", (account_id,), _first
        )
        return found

    async def get_session(self, token_hash: str) -> Session | None:
        sql = f"SELECT {rows.SESSION_COLUMNS} FROM sessions WHERE token_hash = ?"
        return await self._select_one(sql, (token_hash,), rows.session_from_row)
