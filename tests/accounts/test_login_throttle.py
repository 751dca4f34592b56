"""Sign-in throttling: per (email, client address) pair, a budget per address across emails, and
one per email across addresses.

Guessing at someone's email from one address must not lock its owner out elsewhere, one address
spraying many emails (an argon2 hash each) must be stopped, and rotating addresses must not give
unlimited guesses at one account. The argon2 work is replaced by
a cheap check in the service-level tests (the limits, not the hashing, are under test here); the
route test at the end uses real hashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from opencompress.accounts import passwords
from opencompress.accounts.sessions import (
    LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE,
    LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE,
    LOGIN_ATTEMPTS_PER_MINUTE,
    SessionService,
)
from opencompress.config import Settings
from opencompress.errors import AuthError, RateLimitError
from opencompress.ratelimit.memory import MemoryRateLimiter
from opencompress.storage import Storage, open_storage
from support.owners import seed_owner

PASSWORD = "s3cret-passw0rd"
EMAIL = "owner@example.com"
ATTACKER, OWNER_ADDRESS = "198.51.100.7", "203.0.113.20"


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "verify_password", lambda stored, pw: stored == "h:" + pw)
    monkeypatch.setattr(passwords, "needs_rehash", lambda stored: False)


Body = Callable[[SessionService, MemoryRateLimiter, list[float]], Awaitable[None]]


def run(tmp_path: Path, body: Body) -> None:
    """``body(sessions, limiter, clock)`` against a fresh database holding the owner account."""

    async def main() -> None:
        storage: Storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
        try:
            await storage.migrate()
            await storage.create_account("owner", email=EMAIL, password_hash="h:" + PASSWORD)
            now = [0.0]
            limiter = MemoryRateLimiter(clock=lambda: now[0])
            await body(SessionService(storage, ttl_s=60, limiter=limiter), limiter, now)
        finally:
            await storage.close()

    asyncio.run(main())


@pytest.mark.usefixtures("cheap_hashing")
def test_guessing_from_one_address_does_not_lock_the_owner_out(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for _ in range(LOGIN_ATTEMPTS_PER_MINUTE):
            with pytest.raises(AuthError):
                await sessions.sign_in(EMAIL, "wrong-guess", client=ATTACKER)
        with pytest.raises(RateLimitError) as limited:
            await sessions.sign_in(EMAIL, PASSWORD, client=ATTACKER)
        assert limited.value.status == 429 and limited.value.retry_after > 0
        assert "for this email" in limited.value.message
        active = await sessions.sign_in(EMAIL, PASSWORD, client=OWNER_ADDRESS)  # the 11th overall
        assert active.account.email == EMAIL
        now[0] += 61
        await sessions.sign_in(EMAIL, PASSWORD, client=ATTACKER)  # the window moved on

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_spraying_emails_from_one_address_is_limited(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for i in range(LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE):
            with pytest.raises(AuthError):
                await sessions.sign_in(f"user{i}@example.com", "guess-1234", client=ATTACKER)
        with pytest.raises(RateLimitError) as limited:  # a new email, even the right password
            await sessions.sign_in(EMAIL, PASSWORD, client=ATTACKER)
        assert "from this address" in limited.value.message and limited.value.retry_after > 0
        await sessions.sign_in(EMAIL, PASSWORD, client=OWNER_ADDRESS)  # other addresses are fine
        keys_before = limiter.tracked_keys
        for i in range(5):  # refused at the address budget: no per-email state is created
            with pytest.raises(RateLimitError):
                await sessions.sign_in(f"more{i}@example.com", "guess-1234", client=ATTACKER)
        assert limiter.tracked_keys == keys_before

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_attempts_refused_per_email_still_count_for_the_address(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for _ in range(LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE):
            with pytest.raises((AuthError, RateLimitError)):
                await sessions.sign_in(EMAIL, "wrong-guess", client=ATTACKER)
        with pytest.raises(RateLimitError) as limited:
            await sessions.sign_in("someone-else@example.com", "guess-1234", client=ATTACKER)
        assert "from this address" in limited.value.message

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_without_an_address_the_email_budget_applies_alone(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for i in range(LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE + 5):  # no address budget to run out
            with pytest.raises(AuthError):
                await sessions.sign_in(f"user{i}@example.com", "guess-1234")
        for _ in range(LOGIN_ATTEMPTS_PER_MINUTE - 1):
            with pytest.raises(AuthError):
                await sessions.sign_in(EMAIL, "wrong-guess")
        await sessions.sign_in(EMAIL, PASSWORD)
        with pytest.raises(RateLimitError):
            await sessions.sign_in(EMAIL, PASSWORD)

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
@pytest.mark.parametrize("proxy", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_a_loopback_peer_gets_no_address_budget(tmp_path: Path, proxy: str) -> None:
    """Behind a same-host proxy that does not forward the client's address, every user is the
    proxy's loopback address: an address budget there would be one sign-in budget for everyone."""

    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for i in range(LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE + 5):
            with pytest.raises(AuthError):
                await sessions.sign_in(f"user{i}@example.com", "guess-1234", client=proxy)
        await sessions.sign_in(EMAIL, PASSWORD, client=proxy)
        for _ in range(LOGIN_ATTEMPTS_PER_MINUTE - 1):  # the per-email budget still applies
            with pytest.raises(AuthError):
                await sessions.sign_in(EMAIL, "wrong-guess", client=proxy)
        with pytest.raises(RateLimitError):
            await sessions.sign_in(EMAIL, PASSWORD, client=proxy)

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_limiter_keys_hold_neither_email_nor_address_and_slots_are_returned(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        await sessions.sign_in(EMAIL, PASSWORD, client=ATTACKER)
        with pytest.raises(AuthError):
            await sessions.sign_in(EMAIL, "wrong-guess", client=ATTACKER)
        keys = list(limiter._keys)
        assert len(keys) == 3  # the address, the (email, address) pair, the email
        assert not any(part in key for key in keys for part in ("owner", "example", ATTACKER, "198"))
        assert all(not state.leases for state in limiter._keys.values())  # concurrency slots back

    run(tmp_path, body)


def rotating(count: int, start: int = 0) -> list[str]:
    """Distinct public-looking addresses, as a botnet or a pool of proxies would send from."""
    return [f"198.18.{(start + i) // 250}.{(start + i) % 250 + 1}" for i in range(count)]


@pytest.mark.usefixtures("cheap_hashing")
def test_rotating_addresses_cannot_guess_one_email_without_limit(tmp_path: Path) -> None:
    """Each address stays far below its own budgets; the email's budget across addresses stops
    the guessing, and while it is spent even the owner's right password is refused (the documented
    trade-off: letting it through would tell a guesser which guess was right)."""

    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        for address in rotating(LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE):
            with pytest.raises(AuthError):
                await sessions.sign_in(EMAIL, "wrong-guess", client=address)
        for address in rotating(3, start=500):
            with pytest.raises(RateLimitError) as limited:
                await sessions.sign_in(EMAIL, "another-guess", client=address)
            assert limited.value.status == 429 and limited.value.code == "too_many_sign_in_attempts"
            assert limited.value.retry_after > 0 and "for this email" in limited.value.message
        with pytest.raises(RateLimitError):
            await sessions.sign_in(EMAIL, PASSWORD, client=OWNER_ADDRESS)
        now[0] += 61  # the window moved on: the owner gets in
        assert (await sessions.sign_in(EMAIL, PASSWORD, client=OWNER_ADDRESS)).account.email == EMAIL

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_the_email_budget_is_per_email(tmp_path: Path) -> None:
    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        await sessions.storage.create_account(
            "other", email="other@example.com", password_hash="h:" + PASSWORD
        )
        for address in rotating(LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE):
            with pytest.raises(AuthError):
                await sessions.sign_in(EMAIL, "wrong-guess", client=address)
        active = await sessions.sign_in("other@example.com", PASSWORD, client=rotating(1, start=900)[0])
        assert active.account.email == "other@example.com"

    run(tmp_path, body)


@pytest.mark.usefixtures("cheap_hashing")
def test_one_address_alone_cannot_spend_the_email_budget(tmp_path: Path) -> None:
    """Attempts refused by the (email, address) budget do not reach the email's budget, so one
    address hammering an email never locks its owner out of other addresses."""

    async def body(sessions: SessionService, limiter: MemoryRateLimiter, now: list[float]) -> None:
        assert LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE > LOGIN_ATTEMPTS_PER_MINUTE
        for _ in range(LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE + 5):
            with pytest.raises((AuthError, RateLimitError)):
                await sessions.sign_in(EMAIL, "wrong-guess", client=ATTACKER)
        assert (await sessions.sign_in(EMAIL, PASSWORD, client=OWNER_ADDRESS)).account.email == EMAIL

    run(tmp_path, body)


def with_peer_header(app: ASGIApp) -> ASGIApp:
    """Let a test choose the connection's address (``x-test-peer``), as a server would set it."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer:
                scope = {**scope, "client": (peer.decode(), 40000)}
        await app(scope, receive, send)

    return wrapped


def test_the_login_route_throttles_by_the_connections_address(tmp_path: Path) -> None:
    from opencompress.http.app import create_app

    db = tmp_path / "gw.db"

    seed_owner(f"sqlite:///{db}", email=EMAIL, password=PASSWORD)
    settings = Settings.load(env={}, config_file=str(tmp_path / "absent.toml")).replace(
        database_url=f"sqlite:///{db}", dev_mode=False, upstream_base_url="http://127.0.0.1:9/v1"
    )

    def login(client: TestClient, password: str, peer: str) -> Any:
        body = {"email": EMAIL, "password": password}
        return client.post("/auth/login", json=body, headers={"x-test-peer": peer})

    with TestClient(with_peer_header(create_app(settings))) as client:
        statuses = [
            login(client, "wrong-guess-x", ATTACKER).status_code for _ in range(LOGIN_ATTEMPTS_PER_MINUTE)
        ]
        assert statuses == [401] * LOGIN_ATTEMPTS_PER_MINUTE
        refused = login(client, PASSWORD, ATTACKER)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert login(client, PASSWORD, OWNER_ADDRESS).status_code == 200


def test_the_login_route_caps_one_email_across_addresses(tmp_path: Path) -> None:
    from opencompress.http.app import create_app

    db = tmp_path / "gw.db"

    seed_owner(f"sqlite:///{db}", email=EMAIL, password=None)
    settings = Settings.load(env={}, config_file=str(tmp_path / "absent.toml")).replace(
        database_url=f"sqlite:///{db}", dev_mode=False, upstream_base_url="http://127.0.0.1:9/v1"
    )
    body = {"email": EMAIL, "password": "wrong-guess-x"}
    with TestClient(with_peer_header(create_app(settings))) as client:
        statuses = [
            client.post("/auth/login", json=body, headers={"x-test-peer": peer}).status_code
            for peer in rotating(LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE)
        ]
        assert statuses == [401] * LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE
        refused = client.post("/auth/login", json=body, headers={"x-test-peer": OWNER_ADDRESS})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "too_many_sign_in_attempts"
