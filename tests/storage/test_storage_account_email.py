"""Storage contract for ``set_account_email``, on every backend (fixtures in conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from opencompress.errors import ConflictError, NotFoundError
from opencompress.storage import Storage

UseStorage = Callable[[Callable[[Storage], Awaitable[None]]], None]


def test_set_account_email_updates_only_that_account(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        bare = await storage.create_account("bare")
        other = await storage.create_account("other", email="other@example.com")
        updated = await storage.set_account_email(bare.id, "bare@example.com")
        assert updated.id == bare.id and updated.email == "bare@example.com"
        assert (updated.name, updated.balance_micros, updated.created_at) == (
            bare.name,
            bare.balance_micros,
            bare.created_at,
        )
        assert await storage.get_account(bare.id) == updated
        assert await storage.get_account_by_email("bare@example.com") == updated
        assert await storage.get_account(other.id) == other
        changed = await storage.set_account_email(bare.id, "new@example.com")
        assert changed.email == "new@example.com"
        assert await storage.get_account_by_email("bare@example.com") is None  # the old one is free
        assert (await storage.set_account_email(bare.id, "new@example.com")) == changed  # same: no-op

    use_storage(body)


def test_set_account_email_refuses_a_taken_email_and_unknown_accounts(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        first = await storage.create_account("first", email="taken@example.com")
        second = await storage.create_account("second", email="second@example.com")
        with pytest.raises(ConflictError) as caught:
            await storage.set_account_email(second.id, "taken@example.com")
        assert caught.value.code == "email_taken"
        assert await storage.get_account(second.id) == second  # nothing changed
        assert await storage.get_account_by_email("taken@example.com") == first
        with pytest.raises(NotFoundError):
            await storage.set_account_email("acct_missing", "free@example.com")
        assert await storage.get_account_by_email("free@example.com") is None

    use_storage(body)


def test_set_account_email_keeps_sessions(use_storage: UseStorage) -> None:
    """Sessions are bound to the account id, so an email change neither ends nor moves them."""

    async def body(storage: Storage) -> None:
        account = await storage.create_account("s", email="s@example.com")
        other = await storage.create_account("o", email="o@example.com")
        far = 2 * 1_750_000_000.0
        await storage.create_session(token_hash="mine", account_id=account.id, expires_at=far)
        await storage.create_session(token_hash="theirs", account_id=other.id, expires_at=far)
        await storage.set_account_email(account.id, "s2@example.com")
        mine, theirs = await storage.get_session("mine"), await storage.get_session("theirs")
        assert mine is not None and mine.account_id == account.id
        assert theirs is not None and theirs.account_id == other.id

    use_storage(body)
