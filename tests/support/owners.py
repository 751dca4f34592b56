"""A database an owner can sign in to: the setup the sign-in and cookie tests share."""

from __future__ import annotations

import asyncio

from opencompress.accounts import passwords
from opencompress.storage import open_storage


def seed_owner(database_url: str, *, email: str, password: str | None) -> None:
    """Migrate ``database_url`` and create one account signing in with ``email``/``password``
    (a real argon2 hash, so the sign-in path does its full work). ``password=None``: a hash no
    password matches, for tests that only count refused attempts and need no hashing."""
    password_hash = "not-an-argon2-hash" if password is None else passwords.hash_password(password)

    async def seed() -> None:
        storage = open_storage(database_url)
        try:
            await storage.migrate()
            await storage.create_account("owner", email=email, password_hash=password_hash)
        finally:
            await storage.close()

    asyncio.run(seed())
