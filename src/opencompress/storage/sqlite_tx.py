"""The SQLite transactions themselves: plain sync functions run on the storage's worker thread.

Kept apart from :mod:`opencompress.storage.sqlite` (connection, thread and async plumbing) so
the money paths — :func:`reserve` and :func:`settle`, one transaction each — read top to bottom
in one place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opencompress.errors import ConflictError, NotFoundError, OpenCompressError, StorageError
from opencompress.storage import rows
from opencompress.storage.base import Account, ApiKey, Session, SettleResult, UsageRecord

_USAGE_PLACEHOLDERS = ", ".join(["?"] * len(rows.USAGE_COLUMNS.split(",")))
_INSERT_USAGE = f"INSERT INTO usage ({rows.USAGE_COLUMNS}) VALUES ({_USAGE_PLACEHOLDERS})"


@contextmanager
def translate_errors() -> Iterator[None]:
    """The one boundary where sqlite3 errors become the project's error tree."""
    try:
        yield
    except OpenCompressError:
        raise
    except sqlite3.IntegrityError as exc:
        if "accounts.email" in str(exc):
            raise ConflictError("an account with this email already exists", code="email_taken") from exc
        raise StorageError(f"database constraint failed: {exc}") from exc
    except sqlite3.Error as exc:
        raise StorageError(f"database error: {exc}") from exc


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def one_account(column: str, value: str, conn: sqlite3.Connection) -> Account | None:
    row = conn.execute(f"SELECT {rows.ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?", (value,)).fetchone()
    return None if row is None else rows.account_from_row(row)


def one_key(column: str, value: str, conn: sqlite3.Connection) -> ApiKey | None:
    row = conn.execute(f"SELECT {rows.KEY_COLUMNS} FROM api_keys WHERE {column} = ?", (value,)).fetchone()
    return None if row is None else rows.key_from_row(row)


def reserve(
    account_id: str, request_id: str, estimate: int, now: float, expires_at: float, conn: sqlite3.Connection
) -> int:
    with write(conn):
        existing = conn.execute(
            "SELECT amount_micros FROM holds WHERE request_id = ?", (request_id,)
        ).fetchone()
        if existing is not None:
            return int(existing[0])
        conn.execute("DELETE FROM holds WHERE account_id = ? AND expires_at <= ?", (account_id, now))
        row = conn.execute(
            "SELECT balance_micros, (SELECT COALESCE(SUM(amount_micros), 0) FROM holds WHERE account_id = ?) "
            "FROM accounts WHERE id = ?",
            (account_id, account_id),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"account {account_id} not found")
        available = int(row[0]) - int(row[1])
        if available <= 0:
            return 0
        amount = min(estimate, available)
        conn.execute(
            "INSERT INTO holds (request_id, account_id, amount_micros, expires_at) VALUES (?, ?, ?, ?)",
            (request_id, account_id, amount, expires_at),
        )
        return amount


def settle(usage: UsageRecord, now: float, conn: sqlite3.Connection) -> SettleResult:
    with write(conn):
        first = conn.execute(
            "SELECT charged_micros FROM usage WHERE request_id = ?", (usage.request_id,)
        ).fetchone()
        balance_row = conn.execute(
            "SELECT balance_micros FROM accounts WHERE id = ?", (usage.account_id,)
        ).fetchone()
        if balance_row is None:
            raise NotFoundError(f"account {usage.account_id} not found")
        balance = int(balance_row[0])
        if first is not None:
            return SettleResult(charged_micros=int(first[0]), balance_after_micros=balance, duplicate=True)
        conn.execute("DELETE FROM holds WHERE request_id = ?", (usage.request_id,))
        charged = min(usage.charge_micros, balance)
        conn.execute(_INSERT_USAGE, rows.usage_to_params(usage, charged))
        if charged > 0:
            conn.execute(
                "UPDATE accounts SET balance_micros = balance_micros - ? WHERE id = ?",
                (charged, usage.account_id),
            )
            conn.execute(
                "INSERT INTO ledger (account_id, amount_micros, kind, reason, request_id, created_at) "
                "VALUES (?, ?, 'charge', ?, ?, ?)",
                (usage.account_id, -charged, f"usage {usage.model}", usage.request_id, now),
            )
        return SettleResult(charged_micros=charged, balance_after_micros=balance - charged, duplicate=False)


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


def set_password_hash(account_id: str, password_hash: str, conn: sqlite3.Connection) -> None:
    with write(conn):
        cur = conn.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id))
        if cur.rowcount == 0:
            raise NotFoundError(f"account {account_id} not found")
        conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))


def create_session(session: Session, conn: sqlite3.Connection) -> Session:
    with write(conn):
        if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (session.account_id,)).fetchone() is None:
            raise NotFoundError(f"account {session.account_id} not found")
        conn.execute(
            "DELETE FROM sessions WHERE account_id = ? AND expires_at <= ?",
            (session.account_id, session.created_at),
        )
        conn.execute(
            f"INSERT INTO sessions ({rows.SESSION_COLUMNS}) VALUES (?, ?, ?, ?)",
            (session.token_hash, session.account_id, session.created_at, session.expires_at),
        )
    return session
