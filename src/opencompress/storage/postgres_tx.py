"""The PostgreSQL transactions: one async function per money path, plus the error boundary.

Kept apart from :mod:`opencompress.storage.postgres` (pool, URL and lifecycle plumbing) so the
money paths read top to bottom in one place, mirroring :mod:`opencompress.storage.sqlite_tx`.

Concurrency: every transaction that reads a balance and then writes against it first locks the
account row (``SELECT … FOR NO KEY UPDATE``). Under READ COMMITTED each later statement takes a
fresh snapshot, so once the lock is held the transaction sees every hold, usage row and balance
committed by the transactions it waited for — reserve and settle on one account are serialised
by the row lock, which is what keeps "balance never below zero" and "each request charged once"
exact across replicas. ``NO KEY UPDATE`` rather than ``UPDATE`` so inserts elsewhere that merely
reference the account (foreign keys take ``KEY SHARE``) are not blocked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

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

Conn = AsyncConnection[TupleRow]


def _pg(sql: str) -> str:
    """A statement of :mod:`~opencompress.storage.rows` with psycopg's placeholders."""
    return sql.replace("?", "%s")


INSERT_ACCOUNT = _pg(rows.INSERT_ACCOUNT)
_INSERT_USAGE = _pg(rows.INSERT_USAGE)
_INSERT_KEY = _pg(rows.INSERT_KEY)
_INSERT_LEDGER = _pg(rows.INSERT_LEDGER)
_INSERT_SESSION = _pg(rows.INSERT_SESSION)
FIRST_ACCOUNT_LOCK_ID = 727302
"""Advisory lock under which :func:`insert_first_account` checks that no account exists (the
migration lock, ``MIGRATION_LOCK_ID``, is 727301)."""

CONFLICTS: dict[str, tuple[str, str]] = {
    "accounts_email_key": ("an account with this email already exists", "email_taken"),
}
"""Unique constraints (PostgreSQL's default names) that are a user-facing 409, with message and code.
Any other constraint failure is a :class:`StorageError`, as in the SQLite backend."""


@contextmanager
def translate_errors() -> Iterator[None]:
    """The one boundary where driver and pool errors become the project's error tree.

    Connection refused, a pool timeout (database down or saturated), a dropped connection: all
    become :class:`StorageError` (503), raised before anything is forwarded upstream.
    """
    try:
        yield
    except OpenCompressError:
        raise
    except psycopg.errors.UniqueViolation as exc:
        known = CONFLICTS.get(exc.diag.constraint_name or "")
        if known is not None:
            raise ConflictError(known[0], code=known[1]) from exc
        raise StorageError(f"database constraint failed: {_first_line(exc)}") from exc
    except psycopg.IntegrityError as exc:
        raise StorageError(f"database constraint failed: {_first_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        raise StorageError(f"database unavailable: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StorageError(f"database error: {_first_line(exc)}") from exc
    except OSError as exc:
        raise StorageError(f"database unavailable: {exc}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def fetchone(conn: Conn, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> TupleRow | None:
    cur = await conn.execute(sql, params)
    return await cur.fetchone()


async def fetchall(conn: Conn, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[TupleRow]:
    cur = await conn.execute(sql, params)
    return await cur.fetchall()


async def lock_balance(conn: Conn, account_id: str) -> int:
    """Lock the account row for the rest of the transaction; its balance. Unknown → NotFoundError."""
    row = await fetchone(
        conn, "SELECT balance_micros FROM accounts WHERE id = %s FOR NO KEY UPDATE", (account_id,)
    )
    if row is None:
        raise NotFoundError(f"account {account_id} not found")
    return int(row[0])


async def credit(conn: Conn, account_id: str, amount: int, reason: str, now: float) -> int:
    """Add ``amount`` and its ledger entry in one transaction; refuses (writing nothing) an amount
    out of range or one that would take the balance above :data:`MAX_BALANCE_MICROS`.

    The ceiling is in the UPDATE's WHERE clause: under READ COMMITTED a concurrent credit's row
    is re-checked against the committed balance, so two credits can never jointly cross it."""
    check_credit_micros(amount)  # before binding: an int past 64 bits cannot even be sent
    async with conn.transaction():
        row = await fetchone(
            conn,
            "UPDATE accounts SET balance_micros = balance_micros + %s "
            "WHERE id = %s AND balance_micros <= %s RETURNING balance_micros",
            (amount, account_id, MAX_BALANCE_MICROS - amount),
        )
        if row is None:
            current = await fetchone(conn, "SELECT balance_micros FROM accounts WHERE id = %s", (account_id,))
            if current is None:
                raise NotFoundError(f"account {account_id} not found")
            raise balance_ceiling_error(int(current[0]), amount)
        await conn.execute(_INSERT_LEDGER, (account_id, amount, "credit", reason, None, now))
        return int(row[0])


async def insert_first_account(conn: Conn, account: Account, key: ApiKey, key_hash: str, reason: str) -> bool:
    """The account, its opening credit and its key, only while no account exists. Under READ
    COMMITTED two replicas could both see an empty table, so the check runs under a transaction-level
    advisory lock: the second replica waits, then sees the first one's committed account."""
    check_credit_micros(account.balance_micros)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FIRST_ACCOUNT_LOCK_ID,))
        if await fetchone(conn, "SELECT 1 FROM accounts LIMIT 1") is not None:
            return False
        await conn.execute(INSERT_ACCOUNT, rows.account_insert_params(account, None))
        await conn.execute(
            _INSERT_LEDGER, (account.id, account.balance_micros, "credit", reason, None, account.created_at)
        )
        await conn.execute(_INSERT_KEY, rows.key_insert_params(key, key_hash))
    return True


async def set_account_email(conn: Conn, account_id: str, email: str) -> Account:
    """One autocommit UPDATE of the unique ``email`` column: a taken email fails on
    ``accounts_email_key`` (→ 409 via :data:`CONFLICTS`), an unknown account updates no row (→ 404)."""
    row = await fetchone(
        conn,
        f"UPDATE accounts SET email = %s WHERE id = %s RETURNING {rows.ACCOUNT_COLUMNS}",
        (email, account_id),
    )
    if row is None:
        raise NotFoundError(f"account {account_id} not found")
    return rows.account_from_row(row)


async def create_key(conn: Conn, key: ApiKey, key_hash: str, max_active: int | None) -> None:
    async with conn.transaction():
        await lock_balance(conn, key.account_id)  # existence check; serialises the max_active count
        if max_active is not None:
            row = await fetchone(
                conn, "SELECT COUNT(*) FROM api_keys WHERE account_id = %s AND is_active", (key.account_id,)
            )
            if row is not None and int(row[0]) >= max_active:
                raise InvalidRequestError(
                    f"an account may have at most {max_active} active keys; revoke one first",
                    code="too_many_keys",
                )
        await conn.execute(_INSERT_KEY, rows.key_insert_params(key, key_hash))


async def touch_keys(conn: Conn, last_used: Mapping[str, float]) -> None:
    # Sorted by id so two replicas flushing overlapping keys lock rows in the same order (no deadlock).
    params = [(ts, ts, key_id) for key_id, ts in sorted(last_used.items())]
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "UPDATE api_keys SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < %s "
            "THEN %s ELSE last_used_at END WHERE id = %s",
            params,
        )


async def reserve(
    conn: Conn, account_id: str, request_id: str, estimate: int, now: float, expires_at: float
) -> int:
    async with conn.transaction():
        balance = await lock_balance(conn, account_id)
        # One statement: drop the account's expired holds (except this request's own, so a retried
        # reserve still finds it) and read what is held now. The CTE and the SELECT share a
        # snapshot, hence the explicit ``expires_at > now`` on the sum.
        row = await fetchone(
            conn,
            "WITH expired AS (DELETE FROM holds WHERE account_id = %s AND expires_at <= %s "
            "AND request_id <> %s) "
            "SELECT COALESCE(SUM(amount_micros) FILTER (WHERE expires_at > %s), 0), "
            "MAX(amount_micros) FILTER (WHERE request_id = %s) FROM holds WHERE account_id = %s",
            (account_id, now, request_id, now, request_id, account_id),
        )
        assert row is not None
        held, existing = int(row[0]), row[1]
        if existing is not None:
            return int(existing)
        available = balance - held
        if available <= 0:
            return 0
        amount = min(estimate, available)
        await conn.execute(
            "INSERT INTO holds (request_id, account_id, amount_micros, expires_at) VALUES (%s, %s, %s, %s)",
            (request_id, account_id, amount, expires_at),
        )
        return amount


async def settle(conn: Conn, usage: UsageRecord, now: float) -> SettleResult:
    async with conn.transaction():
        balance = await lock_balance(conn, usage.account_id)
        first = await fetchone(
            conn, "SELECT charged_micros FROM usage WHERE request_id = %s", (usage.request_id,)
        )
        if first is not None:
            return SettleResult(charged_micros=int(first[0]), balance_after_micros=balance, duplicate=True)
        charged = min(usage.charge_micros, balance)
        # The writes do not depend on each other's results: send them in one round trip.
        async with conn.pipeline():
            await conn.execute("DELETE FROM holds WHERE request_id = %s", (usage.request_id,))
            await conn.execute(_INSERT_USAGE, rows.usage_to_params(usage, charged))
            if charged > 0:
                await conn.execute(
                    "UPDATE accounts SET balance_micros = balance_micros - %s WHERE id = %s",
                    (charged, usage.account_id),
                )
                await conn.execute(
                    _INSERT_LEDGER,
                    (usage.account_id, -charged, "charge", f"usage {usage.model}", usage.request_id, now),
                )
        return SettleResult(charged_micros=charged, balance_after_micros=balance - charged, duplicate=False)


async def set_password_hash(conn: Conn, account_id: str, password_hash: str) -> None:
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE accounts SET password_hash = %s WHERE id = %s", (password_hash, account_id)
        )
        if cur.rowcount == 0:
            raise NotFoundError(f"account {account_id} not found")
        await conn.execute("DELETE FROM sessions WHERE account_id = %s", (account_id,))


async def create_session(conn: Conn, session: Session) -> Session:
    async with conn.transaction():
        # KEY SHARE: the account must exist and stay while the session row referencing it is added.
        if (
            await fetchone(conn, "SELECT 1 FROM accounts WHERE id = %s FOR KEY SHARE", (session.account_id,))
            is None
        ):
            raise NotFoundError(f"account {session.account_id} not found")
        await conn.execute(
            "DELETE FROM sessions WHERE account_id = %s AND expires_at <= %s",
            (session.account_id, session.created_at),
        )
        await conn.execute(
            _INSERT_SESSION,
            (session.token_hash, session.account_id, session.created_at, session.expires_at),
        )
    return session
