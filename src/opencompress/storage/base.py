"""The storage interface: records and the repository protocol every backend implements.

Money is integer micro-dollars. The charging protocol has two steps, both single transactions:

1. ``reserve(account_id, request_id, estimate)`` before forwarding: admits the request only while
   the account's *available* balance (balance minus unexpired holds of in-flight requests) is
   positive, and holds ``min(estimate, available)``. Concurrent requests therefore cannot all
   pass a stale "balance > 0" check. Holds expire (``hold_ttl_s``) so a crashed process cannot
   lock funds forever. PostgreSQL keeps them as rows all replicas see; SQLite, served by one
   gateway process, keeps them in that process (:mod:`opencompress.storage.process_holds`).
2. ``settle(usage)`` after the request ends: deletes the hold, inserts the usage row keyed by the
   unique ``request_id``, moves the balance by ``min(charge, balance)`` (never below zero) and
   writes the ledger entry — all or nothing. Settling the same ``request_id`` twice is a no-op
   that returns the first outcome, so retries cannot double-charge.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

KeyMode = Literal["router", "byok"]


@dataclass(frozen=True, kw_only=True)
class Account:
    id: str
    name: str
    balance_micros: int
    created_at: float
    email: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    prefix: str
    """Display prefix such as ``sk-occ-dUioZ7ag``; the key itself is stored only as a SHA-256 hash."""
    mode: KeyMode
    is_active: bool
    created_at: float
    last_used_at: float | None = None
    rpm_limit: int | None = None
    concurrency_limit: int | None = None
    compression_level: str | None = None
    upstream_base_url: str | None = None
    upstream_key_encrypted: bytes | None = None


@dataclass(frozen=True, kw_only=True)
class UsageRecord:
    request_id: str
    account_id: str
    key_id: str
    model: str
    mode: KeyMode
    original_input_tokens: int
    compressed_input_tokens: int
    output_tokens: int
    original_cost_micros: int
    actual_cost_micros: int
    savings_micros: int
    fee_micros: int
    charge_micros: int
    """What the formula asks for; ``charged_micros`` on the stored row is this capped at the balance."""
    compression_ms: float
    ttfb_ms: float | None
    total_ms: float
    status: str
    """``ok``, ``client_disconnected``, ``upstream_error``, ``error``…"""
    created_at: float
    charged_micros: int = 0


@dataclass(frozen=True, kw_only=True)
class SettleResult:
    charged_micros: int
    balance_after_micros: int
    duplicate: bool


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    id: int
    account_id: str
    amount_micros: int
    """Positive for credits, negative for charges."""
    kind: Literal["credit", "charge"]
    reason: str
    request_id: str | None
    created_at: float


@dataclass(frozen=True, kw_only=True)
class Session:
    """A signed-in browser/API session. Only the SHA-256 of the session token is stored."""

    token_hash: str
    account_id: str
    created_at: float
    expires_at: float


@dataclass(frozen=True, kw_only=True)
class UsageDay:
    """Usage of one account summed over one UTC day (``day`` = ``floor(created_at / 86400)``)."""

    day: int
    calls: int
    original_input_tokens: int
    compressed_input_tokens: int
    output_tokens: int
    original_cost_micros: int
    actual_cost_micros: int
    savings_micros: int
    fee_micros: int
    charged_micros: int


class Storage(Protocol):
    """Async repository over accounts, keys, holds, usage and the ledger."""

    async def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied (empty when up to date)."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise :class:`opencompress.errors.StorageError` when the database is unreachable."""
        ...

    def stats(self) -> Mapping[str, float]:
        """This process's figures about the backend for ``/metrics`` (cheap, no I/O): SQLite
        reports lock retries, group commits, charges and holds; PostgreSQL its pool."""
        ...

    # accounts
    async def create_account(
        self, name: str, *, email: str | None = None, password_hash: str | None = None
    ) -> Account: ...
    async def get_account(self, account_id: str) -> Account | None: ...
    async def get_account_by_email(self, email: str) -> Account | None: ...
    async def set_account_email(self, account_id: str, email: str) -> Account:
        """Replace the account's sign-in email (the caller has normalised it) and return the account
        as stored. An email another account has → ``ConflictError`` (``email_taken``), the same as
        :meth:`create_account`; unknown account → ``NotFoundError``. The account's sessions stay:
        they are bound to its id, not to the email it signed in with."""
        ...

    async def create_first_account(
        self,
        name: str,
        *,
        credit_micros: int,
        reason: str,
        key_name: str,
        key_hash: str,
        prefix: str,
        mode: KeyMode,
    ) -> Account | None:
        """Only while the database has no account: create one holding ``credit_micros`` (with its
        ledger entry) and one key, all in one transaction, and return it; otherwise ``None``.
        Replicas that start on one empty database at once create exactly one between them
        (PostgreSQL serialises them with an advisory lock, SQLite with its write lock), and a crash
        half-way leaves no account without its credit or key."""
        ...

    async def list_accounts(self) -> list[Account]: ...
    async def count_accounts(self) -> int: ...
    async def credit(self, account_id: str, amount_micros: int, reason: str) -> int:
        """Add credit (ledger entry + balance, one transaction); returns the new balance.

        ``amount_micros`` must be positive (else ``InvalidRequestError``); an unknown account raises
        ``NotFoundError``."""
        ...

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
        """Insert a key; with ``max_active`` raise ``InvalidRequestError`` (not a conflict) when the
        account already has that many active keys (checked in the same transaction). An unknown
        account raises ``NotFoundError``."""
        ...

    async def get_key(self, key_id: str) -> ApiKey | None: ...
    async def get_key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def list_keys(self, account_id: str) -> list[ApiKey]: ...
    async def revoke_key(self, key_id: str) -> bool:
        """Soft delete; True when this call deactivated the key (False: unknown or already revoked)."""
        ...

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        """Batch-update ``last_used_at`` (called by a coalescing background task, not per request)."""
        ...

    # charging
    async def reserve(self, account_id: str, request_id: str, estimate_micros: int, *, ttl_s: float) -> int:
        """Hold up to ``estimate_micros`` of available balance; 0 means nothing available (→ 402).

        Idempotent per ``request_id`` (a second call returns the existing hold). Expired holds of the
        account are deleted in the same transaction. Unknown account → ``NotFoundError``."""
        ...

    async def release(self, request_id: str) -> None:
        """Drop a hold without charging (request never reached the upstream)."""
        ...

    async def renew_holds(self, request_ids: Collection[str], *, ttl_s: float) -> None:
        """Push the expiry of these requests' unexpired holds to ``ttl_s`` from now.

        The gateway renews the holds of its in-flight requests on a heartbeat, so holds can have a
        short TTL: a crashed replica's holds free the account's money within that TTL, while a
        request that runs for longer than it keeps its hold. An expired hold is not brought back."""
        ...

    async def settle(self, usage: UsageRecord) -> SettleResult:
        """Charge ``min(usage.charge_micros, balance)`` once per ``request_id`` (see module doc).

        A duplicate returns the first ``charged_micros`` with ``duplicate=True`` and the account's
        *current* balance. ``usage.charged_micros`` is ignored on input; the stored row has the real
        value. A ledger ``charge`` row (amount ``-charged``) is written only when ``charged > 0``."""
        ...

    # usage and ledger
    async def get_usage(self, request_id: str) -> UsageRecord | None: ...
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
        """Newest first; ``before`` is the (created_at, request_id) cursor of the last row seen."""
        ...

    async def list_ledger(self, account_id: str, *, limit: int = 100) -> list[LedgerEntry]: ...

    async def usage_by_day(
        self,
        account_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        key_id: str | None = None,
        model: str | None = None,
    ) -> list[UsageDay]:
        """Per-UTC-day sums of the account's usage rows, oldest day first, days without rows left out.

        Filters as in :meth:`list_usage` (``since`` inclusive, ``until`` exclusive). ``charged_micros``
        sums the stored (capped) charges. Monthly figures are sums of these days."""
        ...

    # passwords and sign-in sessions (added by migration 0002)
    async def get_password_hash(self, account_id: str) -> str | None:
        """The account's encoded password hash; ``None`` when it has none or does not exist."""
        ...

    async def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace the password hash and delete every session of the account, in one transaction
        (a password change signs everybody out). Unknown account → ``NotFoundError``."""
        ...

    async def create_session(self, *, token_hash: str, account_id: str, expires_at: float) -> Session:
        """Insert a session (``created_at`` = now) and, in the same transaction, delete the
        account's sessions that expired. Unknown account → ``NotFoundError``."""
        ...

    async def get_session(self, token_hash: str) -> Session | None:
        """The session with this token hash, expired or not (the caller checks ``expires_at``)."""
        ...

    async def extend_session(self, token_hash: str, expires_at: float) -> bool:
        """Move a session's expiry to ``expires_at`` (sliding sessions); ``False`` when it is gone."""
        ...

    async def delete_session(self, token_hash: str) -> None:
        """Forget a session (sign-out); unknown hashes are ignored."""
        ...


__all__: Sequence[str] = (
    "Account",
    "ApiKey",
    "KeyMode",
    "LedgerEntry",
    "Session",
    "SettleResult",
    "Storage",
    "UsageDay",
    "UsageRecord",
)
