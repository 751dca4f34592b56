"""Column lists, INSERT statements and row ↔ record converters shared by the SQL backends.

Both backends select and insert the same columns in the same order, so one converter per record
keeps the mapping in one place. Booleans are normalised with ``bool()`` because SQLite returns 0/1.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, cast

from opencompress.storage.base import Account, ApiKey, KeyMode, LedgerEntry, Session, UsageDay, UsageRecord

ACCOUNT_COLUMNS = "id, name, balance_micros, created_at, email"

KEY_COLUMNS = (
    "id, account_id, name, prefix, mode, is_active, created_at, last_used_at, rpm_limit, "
    "concurrency_limit, compression_level, upstream_base_url, upstream_key_encrypted"
)

USAGE_COLUMNS = (
    "request_id, account_id, key_id, model, mode, original_input_tokens, compressed_input_tokens, "
    "output_tokens, original_cost_micros, actual_cost_micros, savings_micros, fee_micros, charge_micros, "
    "compression_ms, ttfb_ms, total_ms, status, created_at, charged_micros"
)

LEDGER_COLUMNS = "id, account_id, amount_micros, kind, reason, request_id, created_at"

SESSION_COLUMNS = "token_hash, account_id, created_at, expires_at"

USAGE_DAY_SUMS = (
    "COUNT(*), SUM(original_input_tokens), SUM(compressed_input_tokens), SUM(output_tokens), "
    "SUM(original_cost_micros), SUM(actual_cost_micros), SUM(savings_micros), SUM(fee_micros), "
    "SUM(charged_micros)"
)
"""The aggregate columns after the day number in a usage-by-day query, in :class:`UsageDay` order."""

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 16) -> str:
    """``acct_`` / ``key_`` + 16 random lowercase alphanumerics (~82 bits): short, URL- and
    double-click-friendly, and unguessable so ids in URLs leak nothing useful."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def account_from_row(row: Sequence[Any]) -> Account:
    return Account(id=row[0], name=row[1], balance_micros=int(row[2]), created_at=float(row[3]), email=row[4])


def key_from_row(row: Sequence[Any]) -> ApiKey:
    encrypted = row[12]
    return ApiKey(
        id=row[0],
        account_id=row[1],
        name=row[2],
        prefix=row[3],
        mode=cast(KeyMode, row[4]),
        is_active=bool(row[5]),
        created_at=float(row[6]),
        last_used_at=None if row[7] is None else float(row[7]),
        rpm_limit=row[8],
        concurrency_limit=row[9],
        compression_level=row[10],
        upstream_base_url=row[11],
        upstream_key_encrypted=None if encrypted is None else bytes(encrypted),
    )


KEY_INSERT_COLUMNS = (
    "id, account_id, name, prefix, key_hash, mode, is_active, rpm_limit, concurrency_limit, "
    "compression_level, upstream_base_url, upstream_key_encrypted, created_at"
)


def _insert(table: str, columns: str) -> str:
    """An INSERT of ``columns`` with ``?`` placeholders (the PostgreSQL backend swaps in ``%s``)."""
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['?'] * len(columns.split(',')))})"


INSERT_ACCOUNT = _insert("accounts", "id, name, email, password_hash, balance_micros, created_at")
INSERT_KEY = _insert("api_keys", KEY_INSERT_COLUMNS)
INSERT_USAGE = _insert("usage", USAGE_COLUMNS)
INSERT_SESSION = _insert("sessions", SESSION_COLUMNS)
INSERT_LEDGER = _insert("ledger", "account_id, amount_micros, kind, reason, request_id, created_at")


def account_insert_params(account: Account, password_hash: str | None) -> tuple[Any, ...]:
    """Values for :data:`INSERT_ACCOUNT`: the account's balance is its opening credit (usually 0)."""
    return (
        account.id,
        account.name,
        account.email,
        password_hash,
        account.balance_micros,
        account.created_at,
    )


def key_insert_params(key: ApiKey, key_hash: str) -> tuple[Any, ...]:
    """Values in :data:`KEY_INSERT_COLUMNS` order (a new key is always active)."""
    return (
        key.id,
        key.account_id,
        key.name,
        key.prefix,
        key_hash,
        key.mode,
        True,
        key.rpm_limit,
        key.concurrency_limit,
        key.compression_level,
        key.upstream_base_url,
        key.upstream_key_encrypted,
        key.created_at,
    )


def usage_to_params(usage: UsageRecord, charged_micros: int) -> tuple[Any, ...]:
    """Values in :data:`USAGE_COLUMNS` order, with the stored ``charged_micros``."""
    return (
        usage.request_id,
        usage.account_id,
        usage.key_id,
        usage.model,
        usage.mode,
        usage.original_input_tokens,
        usage.compressed_input_tokens,
        usage.output_tokens,
        usage.original_cost_micros,
        usage.actual_cost_micros,
        usage.savings_micros,
        usage.fee_micros,
        usage.charge_micros,
        usage.compression_ms,
        usage.ttfb_ms,
        usage.total_ms,
        usage.status,
        usage.created_at,
        charged_micros,
    )


def usage_from_row(row: Sequence[Any]) -> UsageRecord:
    return UsageRecord(
        request_id=row[0],
        account_id=row[1],
        key_id=row[2],
        model=row[3],
        mode=cast(KeyMode, row[4]),
        original_input_tokens=int(row[5]),
        compressed_input_tokens=int(row[6]),
        output_tokens=int(row[7]),
        original_cost_micros=int(row[8]),
        actual_cost_micros=int(row[9]),
        savings_micros=int(row[10]),
        fee_micros=int(row[11]),
        charge_micros=int(row[12]),
        compression_ms=float(row[13]),
        ttfb_ms=None if row[14] is None else float(row[14]),
        total_ms=float(row[15]),
        status=row[16],
        created_at=float(row[17]),
        charged_micros=int(row[18]),
    )


def ledger_from_row(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(
        id=int(row[0]),
        account_id=row[1],
        amount_micros=int(row[2]),
        kind=row[3],
        reason=row[4],
        request_id=row[5],
        created_at=float(row[6]),
    )


def session_from_row(row: Sequence[Any]) -> Session:
    return Session(token_hash=row[0], account_id=row[1], created_at=float(row[2]), expires_at=float(row[3]))


def usage_day_from_row(row: Sequence[Any]) -> UsageDay:
    """``row`` = the day number followed by :data:`USAGE_DAY_SUMS`."""
    return UsageDay(
        day=int(row[0]),
        calls=int(row[1]),
        original_input_tokens=int(row[2]),
        compressed_input_tokens=int(row[3]),
        output_tokens=int(row[4]),
        original_cost_micros=int(row[5]),
        actual_cost_micros=int(row[6]),
        savings_micros=int(row[7]),
        fee_micros=int(row[8]),
        charged_micros=int(row[9]),
    )
