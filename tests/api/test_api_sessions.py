"""Sign-in sessions: generic failures, hashed tokens, expiry, sign-out, CSRF derivation."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from opencompress.accounts import passwords
from opencompress.accounts.sessions import (
    SessionService,
    csrf_matches,
    csrf_token_for,
    hash_session_token,
)
from opencompress.errors import AuthError
from opencompress.storage import Storage, open_storage

T = TypeVar("T")
PASSWORD = "s3cret-passw0rd"


def with_storage(db: Path, body: Callable[[Storage], Awaitable[T]], now: list[float] | None = None) -> T:
    """Run ``body`` on a migrated SQLite file; with ``now``, the storage's clock (``created_at``)
    reads ``now[0]``, as the tests' session clocks do."""
    from opencompress.storage import SqliteStorage

    async def main() -> T:
        storage = SqliteStorage(str(db), clock=lambda: now[0]) if now else open_storage(f"sqlite:///{db}")
        try:
            await storage.migrate()
            return await body(storage)
        finally:
            await storage.close()

    return asyncio.run(main())


async def owner(storage: Storage, email: str = "Owner@Example.com") -> str:
    account = await storage.create_account(
        "owner", email=email.lower(), password_hash=passwords.hash_password(PASSWORD)
    )
    return account.id


def test_sign_in_resume_sign_out(tmp_path: Path) -> None:
    async def body(storage: Storage) -> None:
        account_id = await owner(storage)
        sessions = SessionService(storage, ttl_s=3600)
        active = await sessions.sign_in("  OWNER@example.com ", PASSWORD)
        assert active.account.id == account_id and len(active.token) >= 43
        assert active.token not in repr(active) and active.csrf_token == csrf_token_for(active.token)
        stored = await storage.get_session(hash_session_token(active.token))
        assert stored is not None and stored.account_id == account_id
        raw = sqlite3.connect(tmp_path / "s.db").execute("SELECT * FROM sessions").fetchall()
        assert raw == [(hash_session_token(active.token), account_id, stored.created_at, stored.expires_at)]
        assert active.token not in repr(raw)
        resumed = await sessions.resume(active.token)
        assert resumed.account.id == account_id and resumed.csrf_token == active.csrf_token
        await sessions.sign_out(active.token)
        with pytest.raises(AuthError) as gone:
            await sessions.resume(active.token)
        assert gone.value.code == "invalid_session"

    with_storage(tmp_path / "s.db", body)
    assert sqlite3.connect(tmp_path / "s.db").execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("owner@example.com", "wrong-password"),
        ("nobody@example.com", PASSWORD),
        ("nopass@example.com", PASSWORD),
    ],
)
def test_every_bad_login_gets_the_same_answer(tmp_path: Path, email: str, password: str) -> None:
    async def body(storage: Storage) -> None:
        await owner(storage)
        await storage.create_account("no password", email="nopass@example.com")
        with pytest.raises(AuthError) as err:
            await SessionService(storage, ttl_s=60).sign_in(email, password)
        assert (err.value.message, err.value.code) == ("Invalid email or password.", "invalid_credentials")
        assert password not in err.value.message

    with_storage(tmp_path / "s.db", body)


def test_expired_sessions_fail_and_are_deleted(tmp_path: Path) -> None:
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=60, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        now[0] += 61
        with pytest.raises(AuthError) as err:
            await sessions.resume(active.token)
        assert err.value.code == "session_expired"
        assert await storage.get_session(hash_session_token(active.token)) is None

    with_storage(tmp_path / "s.db", body)


def test_sessions_slide_while_used_and_still_end_when_idle(tmp_path: Path) -> None:
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=60, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        token_hash = hash_session_token(active.token)
        now[0] += 20  # 40 s of 60 left: no write, no new cookie
        early = await sessions.resume(active.token)
        assert (early.renewed, early.expires_at) == (False, 1_060.0)
        now[0] += 15  # 25 s left, under half the lifetime: the expiry slides to a full minute from now
        slid = await sessions.resume(active.token)
        assert (slid.renewed, slid.expires_at) == (True, 1_095.0)
        assert (await storage.get_session(token_hash)).expires_at == 1_095.0  # type: ignore[union-attr]
        now[0] += 50  # used again before 1,095: still valid, well past the original 1,060
        assert (await sessions.resume(active.token)).account.email == "owner@example.com"
        now[0] += 61  # idle for longer than a lifetime: gone
        with pytest.raises(AuthError) as err:
            await sessions.resume(active.token)
        assert err.value.code == "session_expired"

    with_storage(tmp_path / "s.db", body)


@pytest.mark.parametrize("token", [None, "", "x" * 500, "made-up-token"])
def test_missing_or_unknown_tokens_fail(tmp_path: Path, token: str | None) -> None:
    async def body(storage: Storage) -> None:
        with pytest.raises(AuthError):
            await SessionService(storage, ttl_s=60).resume(token)
        await SessionService(storage, ttl_s=60).sign_out(token)  # never raises

    with_storage(tmp_path / "s.db", body)


def test_password_change_ends_sessions_and_legacy_hashes_upgrade(tmp_path: Path) -> None:
    from argon2 import PasswordHasher

    async def body(storage: Storage) -> None:
        account_id = await owner(storage)
        sessions = SessionService(storage, ttl_s=600)
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("new-password-1")
        await storage.set_password_hash(account_id, weak)
        with pytest.raises(AuthError):
            await sessions.resume(active.token)
        await sessions.sign_in("owner@example.com", "new-password-1")
        upgraded = await storage.get_password_hash(account_id)
        assert upgraded is not None and upgraded != weak and not passwords.needs_rehash(upgraded)

    with_storage(tmp_path / "s.db", body)


def test_csrf_token_is_derived_and_checked_in_constant_time() -> None:
    token = "session-token-abc"
    csrf = csrf_token_for(token)
    assert csrf != token and csrf != hash_session_token(token)
    assert csrf != hashlib.sha256(token.encode()).hexdigest()
    assert csrf_matches(token, csrf) and csrf_matches(token, f" {csrf} ")
    assert not csrf_matches(token, None) and not csrf_matches(token, "")
    assert not csrf_matches("other-session", csrf)
    assert not csrf_matches(token, csrf[:-1] + ("A" if csrf[-1] != "A" else "B"))


def test_sign_in_attempts_are_limited_per_email(tmp_path: Path) -> None:
    from opencompress.accounts.sessions import LOGIN_ATTEMPTS_PER_MINUTE
    from opencompress.errors import RateLimitError
    from opencompress.ratelimit.memory import MemoryRateLimiter

    now = [0.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        limiter = MemoryRateLimiter(clock=lambda: now[0])
        sessions = SessionService(storage, ttl_s=60, limiter=limiter)
        for _ in range(LOGIN_ATTEMPTS_PER_MINUTE - 1):
            with pytest.raises(AuthError):
                await sessions.sign_in("owner@example.com", "wrong-password")
        await sessions.sign_in("OWNER@example.com", PASSWORD)  # the 10th attempt still counts
        with pytest.raises(RateLimitError) as limited:
            await sessions.sign_in("owner@example.com", PASSWORD)
        assert limited.value.status == 429 and limited.value.retry_after > 0
        with pytest.raises(AuthError):  # another email has its own budget
            await sessions.sign_in("someone@example.com", PASSWORD)
        now[0] += 61
        await sessions.sign_in("owner@example.com", PASSWORD)
        assert all("owner" not in key for key in limiter._keys)  # hashed, never the address

    with_storage(tmp_path / "s.db", body)


async def assert_ended(sessions: SessionService, storage: Storage, token: str) -> None:
    """The session is refused as expired at its next use, and its row is gone."""
    with pytest.raises(AuthError) as err:
        await sessions.resume(token)
    assert err.value.code == "session_expired"
    assert await storage.get_session(hash_session_token(token)) is None


def test_a_session_ends_at_its_absolute_lifetime_however_much_it_is_used(tmp_path: Path) -> None:
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=60, max_lifetime_s=150, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        token_hash = hash_session_token(active.token)
        assert active.expires_at == 1_060.0
        seen = []
        for _ in range(5):  # used every 25 s: it slides, but never past sign-in + 150 s
            now[0] += 25
            resumed = await sessions.resume(active.token)
            seen.append((resumed.renewed, resumed.expires_at))
        assert seen == [
            (False, 1_060.0),
            (True, 1_110.0),
            (False, 1_110.0),
            (True, 1_150.0),  # a full lifetime would be 1,160: held to the cap
            (False, 1_150.0),  # nothing to move: no write, no new cookie
        ]
        assert (await storage.get_session(token_hash)).expires_at == 1_150.0  # type: ignore[union-attr]
        now[0] = 1_150.0
        await assert_ended(sessions, storage, active.token)

    with_storage(tmp_path / "s.db", body, now)


def test_a_session_older_than_the_cap_ends_even_if_its_expiry_is_later(tmp_path: Path) -> None:
    """A row slid forward before the cap existed (or under a longer cap) ends at its next use."""
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=60, max_lifetime_s=150, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        token_hash = hash_session_token(active.token)
        now[0] = 1_200.0
        assert await storage.extend_session(token_hash, 1_250.0)
        await assert_ended(sessions, storage, active.token)

    with_storage(tmp_path / "s.db", body, now)


def test_sign_in_expiry_never_passes_the_absolute_lifetime(tmp_path: Path) -> None:
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=600, max_lifetime_s=100, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        assert active.expires_at == 1_100.0
        stored = await storage.get_session(hash_session_token(active.token))
        assert stored is not None and stored.expires_at == 1_100.0

    with_storage(tmp_path / "s.db", body, now)


def test_a_zero_max_lifetime_lets_sessions_slide_without_end(tmp_path: Path) -> None:
    now = [1_000.0]

    async def body(storage: Storage) -> None:
        await owner(storage)
        sessions = SessionService(storage, ttl_s=60, max_lifetime_s=0, clock=lambda: now[0])
        active = await sessions.sign_in("owner@example.com", PASSWORD)
        for _ in range(200):  # 5,000 s of use, 83 lifetimes
            now[0] += 25
            await sessions.resume(active.token)
        assert (await sessions.resume(active.token)).expires_at > now[0]

    with_storage(tmp_path / "s.db", body, now)


def test_the_max_lifetime_defaults_to_30_days_and_refuses_negatives() -> None:
    from opencompress.accounts.sessions import DEFAULT_MAX_LIFETIME_S
    from opencompress.config import Settings

    settings = Settings.load(env={}, config_file="/nonexistent/opencompress.toml")
    assert settings.session_max_lifetime_s == DEFAULT_MAX_LIFETIME_S == 30 * 24 * 3600
    env = {"OPENCOMPRESS_SESSION_MAX_LIFETIME_S": "0"}
    assert Settings.load(env=env, config_file="/nonexistent/x.toml").session_max_lifetime_s == 0
    with pytest.raises(ValueError, match="OPENCOMPRESS_SESSION_MAX_LIFETIME_S"):
        Settings.load(env={"OPENCOMPRESS_SESSION_MAX_LIFETIME_S": "-1"}, config_file="/nonexistent/x.toml")
