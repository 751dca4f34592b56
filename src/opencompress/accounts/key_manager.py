"""Keys as an account owner manages them (REST API and dashboard), BYOK included.

Wraps :class:`~opencompress.accounts.service.AccountService` with what the owner-facing surface
adds: every call is scoped to the caller's account (someone else's key id is "not found"), and
BYOK keys get their upstream base URL checked by the SSRF guard and their provider key encrypted
before anything is stored. The provider key then exists only as ciphertext; it is not part of
:class:`~opencompress.storage.base.ApiKey`'s JSON and is decrypted only to forward a request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opencompress.accounts.byok import ByokCipher
from opencompress.accounts.service import AccountService
from opencompress.accounts.ssrf import UpstreamGuard
from opencompress.errors import InvalidRequestError, NotFoundError
from opencompress.storage.base import ApiKey

MAX_PROVIDER_KEY_LENGTH = 4096


@dataclass(frozen=True, kw_only=True)
class NewKey:
    """What an owner asks for. ``upstream_*`` only for ``mode="byok"``; a BYOK key without them
    takes the provider URL and key from the ``x-upstream-*`` headers of each request."""

    name: str = "default"
    mode: str = "router"
    upstream_base_url: str | None = None
    upstream_api_key: str | None = field(default=None, repr=False)
    rpm_limit: int | None = None
    concurrency_limit: int | None = None
    compression_level: str | None = None


class KeyManager:
    def __init__(
        self,
        accounts: AccountService,
        *,
        cipher: ByokCipher,
        guard: UpstreamGuard,
        before_list: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``before_list`` runs before listing (the app flushes coalesced ``lastUsedAt`` there)."""
        self.accounts = accounts
        self.cipher = cipher
        self.guard = guard
        self._before_list = before_list

    async def list_keys(self, account_id: str) -> list[ApiKey]:
        """All of the account's keys, revoked ones included, oldest first."""
        if self._before_list is not None:
            await self._before_list()
        return await self.accounts.list_keys(account_id)

    async def get_key(self, account_id: str, key_id: str) -> ApiKey:
        key = await self.accounts.storage.get_key(key_id)
        if key is None or key.account_id != account_id:
            raise NotFoundError(f"key {key_id} not found")
        return key

    async def create_key(self, account_id: str, spec: NewKey) -> tuple[ApiKey, str]:
        """The new key and its full ``sk-occ-…`` string (shown once). 400 for a bad spec or a 6th
        active key, 404 for an unknown account."""
        await self.accounts.get_account(account_id)
        base_url, encrypted = await self._byok_fields(account_id, spec)
        return await self.accounts.create_key(
            account_id,
            name=spec.name,
            mode=spec.mode,
            rpm_limit=spec.rpm_limit,
            concurrency_limit=spec.concurrency_limit,
            compression_level=spec.compression_level,
            upstream_base_url=base_url,
            upstream_key_encrypted=encrypted,
        )

    async def revoke_key(self, account_id: str, key_id: str) -> ApiKey:
        """Soft delete (idempotent); the key fails on its very next request."""
        return await self.accounts.revoke_key(key_id, account_id=account_id)

    async def _byok_fields(self, account_id: str, spec: NewKey) -> tuple[str | None, bytes | None]:
        if spec.mode != "byok":
            if spec.upstream_base_url is not None or spec.upstream_api_key is not None:
                raise InvalidRequestError(
                    "upstreamBaseUrl and upstreamApiKey are only for keys with mode 'byok'", param="mode"
                )
            return None, None
        base_url = None
        if spec.upstream_base_url is not None:
            base_url = await self.guard.check(spec.upstream_base_url, param="upstreamBaseUrl")
        if spec.upstream_api_key is None:
            return base_url, None
        provider_key = check_provider_key(spec.upstream_api_key, param="upstreamApiKey")
        if base_url is None:
            raise InvalidRequestError(
                "a stored provider key needs upstreamBaseUrl: it is only ever sent to that URL",
                param="upstreamBaseUrl",
            )
        return base_url, self.cipher.encrypt(provider_key, account_id=account_id)


def check_provider_key(value: object, *, param: str) -> str:
    """A provider key must be a non-empty printable string without spaces (it goes into a header).
    Messages never echo it."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestError(f"{param} must be a non-empty string", param=param)
    if len(value) > MAX_PROVIDER_KEY_LENGTH:
        raise InvalidRequestError(f"{param} is longer than {MAX_PROVIDER_KEY_LENGTH} characters", param=param)
    if any(ch.isspace() or not ch.isprintable() for ch in value.strip()) or not value.isascii():
        raise InvalidRequestError(f"{param} must be printable ASCII without spaces", param=param)
    return value.strip()
