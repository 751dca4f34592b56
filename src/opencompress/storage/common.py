"""What every storage backend does the same way before its own transaction runs.

The SQLite and PostgreSQL backends differ in how a transaction reaches the database (a sync
connection on the event loop or a worker thread, an async connection pool) and in placeholder
style, not in what a new record looks like or which arguments are refused. Those rules live here,
once: a backend inherits the public method and implements the ``_insert_*``/``_credit``/
``_reserve``/``_settle`` hook that writes the prepared values in one transaction. The read
queries come with it (:mod:`opencompress.storage.reads`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection

from opencompress.errors import InvalidRequestError
from opencompress.storage import rows
from opencompress.storage.base import Account, ApiKey, KeyMode, Session, SettleResult, UsageRecord
from opencompress.storage.reads import StorageReads


class StorageCommon(StorageReads):
    _clock: Callable[[], float]

    # accounts

    async def create_account(
        self, name: str, *, email: str | None = None, password_hash: str | None = None
    ) -> Account:
        account = Account(
            id=rows.new_id("acct_"), name=name, balance_micros=0, created_at=self._clock(), email=email
        )
        await self._insert_account(account, password_hash)
        return account

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
        if credit_micros <= 0:
            raise InvalidRequestError("credit amount must be positive", param="amount")
        now = self._clock()
        account = Account(id=rows.new_id("acct_"), name=name, balance_micros=credit_micros, created_at=now)
        key = ApiKey(
            id=rows.new_id("key_"),
            account_id=account.id,
            name=key_name,
            prefix=prefix,
            mode=mode,
            is_active=True,
            created_at=now,
        )
        created = await self._insert_first_account(account, key, key_hash, reason)
        return account if created else None

    async def credit(self, account_id: str, amount_micros: int, reason: str) -> int:
        if amount_micros <= 0:
            raise InvalidRequestError("credit amount must be positive", param="amount")
        return await self._credit(account_id, amount_micros, reason, self._clock())

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
        await self._insert_key(key, key_hash, max_active)
        return key

    # charging

    async def reserve(self, account_id: str, request_id: str, estimate_micros: int, *, ttl_s: float) -> int:
        now = self._clock()
        return await self._reserve(account_id, request_id, max(1, estimate_micros), now, now + ttl_s)

    async def renew_holds(self, request_ids: Collection[str], *, ttl_s: float) -> None:
        if request_ids:
            now = self._clock()
            await self._renew_holds(request_ids, now, now + ttl_s)

    async def settle(self, usage: UsageRecord) -> SettleResult:
        if usage.charge_micros < 0:
            raise ValueError(f"negative charge for {usage.request_id}: {usage.charge_micros}")
        return await self._settle(usage, self._clock())

    # sessions

    async def create_session(self, *, token_hash: str, account_id: str, expires_at: float) -> Session:
        session = Session(
            token_hash=token_hash, account_id=account_id, created_at=self._clock(), expires_at=expires_at
        )
        await self._insert_session(session)
        return session

    # the backend's transactions

    @abstractmethod
    async def _insert_account(self, account: Account, password_hash: str | None) -> None: ...

    @abstractmethod
    async def _insert_first_account(self, account: Account, key: ApiKey, key_hash: str, reason: str) -> bool:
        """Insert ``account`` (its balance as the opening credit, with the ledger entry) and ``key``
        in one transaction unless an account exists; whether it did."""

    @abstractmethod
    async def _credit(self, account_id: str, amount_micros: int, reason: str, now: float) -> int: ...

    @abstractmethod
    async def _insert_key(self, key: ApiKey, key_hash: str, max_active: int | None) -> None: ...

    @abstractmethod
    async def _reserve(
        self, account_id: str, request_id: str, estimate_micros: int, now: float, expires_at: float
    ) -> int: ...

    @abstractmethod
    async def _settle(self, usage: UsageRecord, now: float) -> SettleResult: ...

    @abstractmethod
    async def _renew_holds(self, request_ids: Collection[str], now: float, expires_at: float) -> None: ...

    @abstractmethod
    async def _insert_session(self, session: Session) -> None: ...
