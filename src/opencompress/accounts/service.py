"""Account and key management over any :class:`~opencompress.storage.Storage`.

The CLI, the gateway and (later) the admin API and dashboard all go through this service, so
input validation and the key lifecycle live in one place: the full key exists only in the return
value of :meth:`AccountService.create_key`, and :meth:`AccountService.authenticate` is the one
place an ``sk-occ`` key is checked.
"""

from __future__ import annotations

from dataclasses import replace

from opencompress.accounts.keys import display_prefix, generate_key, hash_key, looks_like_key
from opencompress.compression.base import LEVELS
from opencompress.errors import AuthError, InvalidRequestError, NotFoundError
from opencompress.money import parse_usd
from opencompress.storage.base import Account, ApiKey, KeyMode, Storage

MAX_ACTIVE_KEYS = 5
DEMO_ACCOUNT_NAME = "demo"
DEMO_CREDIT_MICROS = 5_000_000
MAX_NAME_LENGTH = 200
MODES: tuple[KeyMode, ...] = ("router", "byok")


class AccountService:
    def __init__(self, storage: Storage, *, max_active_keys: int | None = MAX_ACTIVE_KEYS) -> None:
        self.storage = storage
        self.max_active_keys = max_active_keys

    # accounts

    async def create_account(
        self, name: str, *, email: str | None = None, password_hash: str | None = None
    ) -> Account:
        """Duplicate email → ``ConflictError`` (from storage)."""
        clean_email = _email(email) if email else None
        return await self.storage.create_account(_name(name), email=clean_email, password_hash=password_hash)

    async def set_email(self, account_id: str, email: str) -> Account:
        """Give an existing account a (new) sign-in email, under the rules of :meth:`create_account`:
        the same normalisation and check (400), and an email another account has → ``ConflictError``
        (409, from storage). Unknown account → ``NotFoundError``. Setting the email the account
        already has is a no-op. Sessions stay signed in (they belong to the account id; a new
        password is what signs everybody out)."""
        return await self.storage.set_account_email(account_id, _email(email))

    async def get_account(self, account_id: str) -> Account:
        account = await self.storage.get_account(account_id)
        if account is None:
            raise NotFoundError(f"account {account_id} not found")
        return account

    async def list_accounts(self) -> list[Account]:
        return await self.storage.list_accounts()

    async def credit(self, account_id: str, usd: str, reason: str = "credit") -> int:
        """Add ``usd`` (a decimal string such as ``"10.00"``); returns the new balance in micros."""
        try:
            micros = parse_usd(usd)
        except ValueError as exc:
            raise InvalidRequestError(f"invalid amount {usd!r}: use dollars like 10.00", param="usd") from exc
        return await self.credit_micros(account_id, micros, reason)

    async def credit_micros(self, account_id: str, micros: int, reason: str = "credit") -> int:
        if micros <= 0:
            raise InvalidRequestError("credit amount must be positive", param="usd")
        return await self.storage.credit(account_id, micros, reason.strip() or "credit")

    # keys

    async def create_key(
        self,
        account_id: str,
        name: str = "default",
        mode: str = "router",
        *,
        rpm_limit: int | None = None,
        concurrency_limit: int | None = None,
        compression_level: str | None = None,
        upstream_base_url: str | None = None,
        upstream_key_encrypted: bytes | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; returns it with the full ``sk-occ-…`` string, which is never stored or
        shown again. Validates limits, mode and level; enforces :data:`MAX_ACTIVE_KEYS`."""
        key_mode = _mode(mode)
        for field, value in (("rpm_limit", rpm_limit), ("concurrency_limit", concurrency_limit)):
            if value is not None and value < 1:
                raise InvalidRequestError(f"{field} must be at least 1", param=field)
        if compression_level is not None and compression_level not in LEVELS:
            raise InvalidRequestError(
                f"compression_level must be one of {', '.join(LEVELS)}", param="compression_level"
            )
        full_key = generate_key()
        key = await self.storage.create_key(
            account_id=account_id,
            name=_name(name),
            mode=key_mode,
            key_hash=hash_key(full_key),
            prefix=display_prefix(full_key),
            rpm_limit=rpm_limit,
            concurrency_limit=concurrency_limit,
            compression_level=compression_level,
            upstream_base_url=upstream_base_url,
            upstream_key_encrypted=upstream_key_encrypted,
            max_active=self.max_active_keys,
        )
        return key, full_key

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        await self.get_account(account_id)
        return await self.storage.list_keys(account_id)

    async def revoke_key(self, key_id: str, *, account_id: str | None = None) -> ApiKey:
        """Soft-delete; idempotent. With ``account_id``, a key of another account is reported as not
        found (never reveal that someone else's key exists)."""
        key = await self.storage.get_key(key_id)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise NotFoundError(f"key {key_id} not found")
        await self.storage.revoke_key(key_id)
        return replace(key, is_active=False)

    async def authenticate(self, raw_key: str | None) -> ApiKey:
        """The active key for ``raw_key``; ``AuthError`` for missing, malformed, unknown or revoked.
        Messages never echo the key."""
        if not raw_key:
            raise AuthError(
                "Missing API key: send 'Authorization: Bearer sk-occ-…' or 'x-api-key'",
                code="missing_api_key",
            )
        if not looks_like_key(raw_key):
            raise AuthError(
                "Malformed API key: OpenCompress keys are 'sk-occ-' followed by 32 or more "
                "letters, digits, '-' or '_'"
            )
        # The lookup is by SHA-256 digest through the unique index: the secret itself is never
        # compared, and a digest match reveals nothing usable about other keys.
        key = await self.storage.get_key_by_hash(hash_key(raw_key))
        if key is None:
            raise AuthError("Invalid API key")
        if not key.is_active:
            raise AuthError("This API key has been revoked", code="revoked_api_key")
        return key

    # dev mode

    async def ensure_demo_account(self) -> str | None:
        """With an empty database, create account ``demo`` with $5.00 and one router key; return the
        full key (print it once). Otherwise return ``None``. The account, its credit and its key are
        one transaction that only runs while no account exists, so replicas starting together on an
        empty database make one demo account, and only the replica that made it prints a key."""
        if await self.storage.count_accounts() > 0:  # the usual case: no key material made at all
            return None
        full_key = generate_key()
        account = await self.storage.create_first_account(
            DEMO_ACCOUNT_NAME,
            credit_micros=DEMO_CREDIT_MICROS,
            reason="demo credit",
            key_name="demo",
            key_hash=hash_key(full_key),
            prefix=display_prefix(full_key),
            mode="router",
        )
        return full_key if account is not None else None


def _email(email: str) -> str:
    """The stored form of a sign-in email (sign-in lowercases what it is given the same way)."""
    clean = email.strip().lower()
    if "@" not in clean:
        raise InvalidRequestError("email must look like name@domain", param="email")
    return clean


def _name(name: str) -> str:
    clean = name.strip()
    if not clean:
        raise InvalidRequestError("name must not be empty", param="name")
    if len(clean) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f"name must be at most {MAX_NAME_LENGTH} characters", param="name")
    return clean


def _mode(mode: str) -> KeyMode:
    for known in MODES:
        if mode == known:
            return known
    raise InvalidRequestError("mode must be 'router' or 'byok'", param="mode")
