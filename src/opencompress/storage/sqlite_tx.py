"""The SQLite transactions themselves: plain sync functions of a connection.

Kept apart from :mod:`opencompress.storage.sqlite` (connections, threads and async plumbing) so
the money paths — :func:`reserve` and :func:`settle`, one transaction each — read top to bottom
in one place. Each function is one complete transaction (``BEGIN IMMEDIATE`` … ``COMMIT`` via
:func:`write`, or a single autocommit statement) that leaves nothing behind when it fails, so the
storage may run it on the event-loop connection and, when that one meets a lock, run it again on
the worker thread's connection (see :func:`contended`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from opencompress.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    OpenCompressError,
    StorageError,
)
from opencompress.money import MAX_BALANCE_MICROS, balance_ceiling_error, check_credit_micros
from opencompress.storage import rows
from opencompress.storage.base import Account, ApiKey, Session, SettleResult, UsageRecord

T = TypeVar("T")


def translate(exc: sqlite3.Error) -> OpenCompressError:
    """The one place sqlite3 errors become the project's error tree."""
    if isinstance(exc, sqlite3.IntegrityError):
        if "accounts.email" in str(exc):
            return ConflictError("an account with this email already exists", code="email_taken")
        return StorageError(f"database constraint failed: {exc}")
    return StorageError(f"database error: {exc}")


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc) from exc


_CONTENTION = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def contended(exc: sqlite3.Error) -> bool:
    """Did ``exc`` come from another connection holding a lock (SQLITE_BUSY/LOCKED, any extended
    code), rather than from the statement itself? Only those are worth retrying elsewhere."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in _CONTENTION


def rollback_open(conn: sqlite3.Connection) -> None:
    """Roll back whatever transaction a failed call left open (a no-op when none is)."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction. ``BEGIN IMMEDIATE`` takes the write lock up front, so a contended
    write fails (or waits) at its first statement, never half-way; any failure after it, COMMIT
    included, rolls back, so a failed call has changed nothing and may be run again."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        rollback_open(conn)
        raise


def credit(account_id: str, amount: int, reason: str, now: float, conn: sqlite3.Connection) -> int:
    """Add ``amount`` and its ledger entry in one transaction; refuses (writing nothing) an amount
    out of range or one that would take the balance above :data:`MAX_BALANCE_MICROS`.

    The ceiling is part of the UPDATE itself, so it holds whatever else commits meanwhile; without
    it SQLite would turn a sum past 64 bits into a REAL and money would stop being exact."""
    check_credit_micros(amount)  # before binding: an int past 64 bits cannot even be sent
    with write(conn):
        row = conn.execute(
            "UPDATE accounts SET balance_micros = balance_micros + ? "
            "WHERE id = ? AND balance_micros <= ? RETURNING balance_micros",
            (amount, account_id, MAX_BALANCE_MICROS - amount),
        ).fetchone()
        if row is None:
            current = conn.execute(
                "SELECT balance_micros FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
            if current is None:
                raise NotFoundError(f"account {account_id} not found")
            raise balance_ceiling_error(int(current[0]), amount)
        conn.execute(rows.INSERT_LEDGER, (account_id, amount, "credit", reason, None, now))
        return int(row[0])


def insert_first_account(
    account: Account, key: ApiKey, key_hash: str, reason: str, conn: sqlite3.Connection
) -> bool:
    """The account, its opening credit and its key, only while no account exists. ``BEGIN
    IMMEDIATE`` holds the write lock from the emptiness check to the COMMIT, so of two processes
    seeding one file, the second finds the first one's account."""
    check_credit_micros(account.balance_micros)
    with write(conn):
        if conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None:
            return False
        conn.execute(rows.INSERT_ACCOUNT, rows.account_insert_params(account, None))
        conn.execute(
            rows.INSERT_LEDGER,
            (account.id, account.balance_micros, "credit", reason, None, account.created_at),
        )
        conn.execute(rows.INSERT_KEY, rows.key_insert_params(key, key_hash))
    return True


def set_account_email(account_id: str, email: str, conn: sqlite3.Connection) -> Account:
    """One UPDATE of the unique ``email`` column: a taken email fails on the index (→ 409 via
    :func:`translate`), an unknown account updates no row (→ 404)."""
    with write(conn):
        found = conn.execute(
            f"UPDATE accounts SET email = ? WHERE id = ? RETURNING {rows.ACCOUNT_COLUMNS}",
            (email, account_id),
        ).fetchall()
    if not found:
        raise NotFoundError(f"account {account_id} not found")
    return rows.account_from_row(found[0])


def insert_key(key: ApiKey, key_hash: str, max_active: int | None, conn: sqlite3.Connection) -> ApiKey:
    with write(conn):
        if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (key.account_id,)).fetchone() is None:
            raise NotFoundError(f"account {key.account_id} not found")
        if max_active is not None:
            (active,) = conn.execute(
                "SELECT COUNT(*) FROM api_keys WHERE account_id = ? AND is_active", (key.account_id,)
            ).fetchone()
            if active >= max_active:
                raise InvalidRequestError(
                    f"an account may have at most {max_active} active keys; revoke one first",
                    code="too_many_keys",
                )
        conn.execute(rows.INSERT_KEY, rows.key_insert_params(key, key_hash))
    return key


def balance(account_id: str, conn: sqlite3.Connection) -> int:
    """The account's balance (one autocommit read); unknown account → ``NotFoundError``."""
    row = conn.execute("SELECT balance_micros FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"account {account_id} not found")
    return int(row[0])


def _charge(usage: UsageRecord, now: float, conn: sqlite3.Connection) -> SettleResult:
    """One request's charge inside an open write transaction (see :func:`settle`)."""
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
    charged = min(usage.charge_micros, balance)
    conn.execute(rows.INSERT_USAGE, rows.usage_to_params(usage, charged))
    if charged > 0:
        conn.execute(
            "UPDATE accounts SET balance_micros = balance_micros - ? WHERE id = ?",
            (charged, usage.account_id),
        )
        conn.execute(
            rows.INSERT_LEDGER,
            (usage.account_id, -charged, "charge", f"usage {usage.model}", usage.request_id, now),
        )
    return SettleResult(charged_micros=charged, balance_after_micros=balance - charged, duplicate=False)


def settle(usage: UsageRecord, now: float, conn: sqlite3.Connection) -> SettleResult:
    """The usage row, the balance move and the ledger entry of one request: all or nothing."""
    with write(conn):
        return _charge(usage, now, conn)


def settle_many(charges: Sequence[tuple[UsageRecord, float]], conn: sqlite3.Connection) -> list[SettleResult]:
    """Several requests' charges in one transaction, in order (each sees the ones before it).

    All or nothing for the whole group: if any charge fails, none is written, and the caller
    settles them one by one so that the failure stays with the request that caused it."""
    with write(conn):
        return [_charge(usage, now, conn) for usage, now in charges]


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
            rows.INSERT_SESSION,
            (session.token_hash, session.account_id, session.created_at, session.expires_at),
        )
    return session
