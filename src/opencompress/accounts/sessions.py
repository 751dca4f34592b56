"""Sign-in sessions for account owners (REST API and dashboard): email + password → session token.

The token is 32 random bytes (``secrets``), handed to the browser once in an HttpOnly cookie and
stored only as its SHA-256, so a database copy cannot be replayed as a cookie. Sessions slide:
a session lives ``settings.session_ttl_s`` after sign-in, and once it is used with less than half
of that left, its expiry moves to a full lifetime from now (one write per half-lifetime, not per
request) and :attr:`ActiveSession.renewed` tells the web layer to re-send the cookie with the new
lifetime. Someone who keeps using the dashboard stays signed in; an idle session still ends.
Sliding has an end too: a session ends ``settings.session_max_lifetime_s`` (30 days by default)
after sign-in however much it is used, so a stolen cookie that is kept busy does not live for
ever. The cap is measured from the row's ``created_at`` (the sign-in time, which every session row
has had since the sessions table was created), so it also applies to sessions that slid forward
before the cap existed: they end at their next use once they are older than the cap.
Sign-out deletes the row; a password change deletes every session of the account (in the
storage transaction).

CSRF: each session has a token derived from the session token by HMAC-SHA256. The server can
recompute it from the cookie on every request, so nothing extra is stored, and it cannot be
derived from anything in the database. Browsers send it back in ``X-CSRF-Token`` on
state-changing requests; a cross-site page can neither read the cookie nor the token.

Guessing: with a rate limiter (in-process, or Redis-backed and then shared across replicas), three
budgets apply to sign-in attempts, successful ones included, checked in this order:

- each client address gets :data:`LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE` per minute across all
  emails. Every attempt costs an argon2 hash (~0.1 s of CPU, 64 MiB), so spraying many emails
  from one address is what this budget stops. An attempt that a later budget refuses still
  counts here, so an address that keeps hammering one email is slowed down everywhere;
- each (email, client address) pair gets :data:`LOGIN_ATTEMPTS_PER_MINUTE` per minute. Per pair,
  not per email: someone guessing at an email from their own address cannot lock its owner out,
  whose attempts come from another address;
- each email gets :data:`LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE` per minute across all addresses,
  so that rotating addresses (a botnet, a pool of proxies) does not buy unlimited guesses at one
  account. Only attempts the first two budgets let through count here, so one address can
  spend at most its pair budget of it and cannot lock the owner out alone.

The email budget is where guessing and locking out pull against each other: an attacker with
enough addresses can keep it spent, and while it is spent every sign-in to that email is refused
with the 429, **the owner's correct password included**, without checking the password. Letting a
correct password through would not help: the attacker's own correct guess would get through the
same way, and the cap would stop nothing. What keeps this from being a lock-out for good: the
window slides (the email is open again at most 60 s after the attempts stop), holding it takes
a steady 20 attempts a minute from at least two addresses (one address gets only its pair budget
in), and nothing is written to the account (no lock flag, nothing for an operator to clear). The cap is per
minute because the limiter's window is 60 s (:data:`opencompress.ratelimit.base.WINDOW_S`): a
longer window (fewer guesses per day, but longer lock-outs) would need a limiter with a longer log.

The client address is what the HTTP layer reports for the connection (uvicorn takes it from
``X-Forwarded-For`` only when the peer is a trusted proxy, by default one on loopback). A caller
with no address (``client=None``) gets the per-email budget alone, and so does a loopback peer
(``127.0.0.1``, ``::1``): that is a reverse proxy on the same host that did not pass the client's
address on, or a local process, and one address budget shared by every user behind such a proxy
would let one person lock everyone out. The limiter keys are hashes, so neither an email nor an
address is stored in them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from opencompress.accounts import passwords
from opencompress.errors import AuthError, RateLimitError
from opencompress.ratelimit.base import Limits, RateLimiter
from opencompress.storage.base import Account, Storage

SESSION_COOKIE = "oc_session"
CSRF_HEADER = "X-CSRF-Token"
MAX_TOKEN_LENGTH = 128
LOGIN_ATTEMPTS_PER_MINUTE = 10
"""Sign-in attempts per minute for one email from one client address."""
LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE = 30
"""Sign-in attempts per minute from one client address, all emails together: three full per-email
budgets, so a few people behind one NAT can still mistype, while one address spraying emails
costs the server at most ~3 s of hashing per minute."""
LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE = 20
"""Sign-in attempts per minute for one email from all addresses together.

Why 20: twice the pair budget, so one address (which can spend at most its pair budget of it)
never shuts its owner out, and an owner mistyping from a phone and a laptop at once still fits.
It bounds guessing at one account to 28,800 attempts a day however many addresses are used,
where there was no bound at all; against a password of the minimum length that is not a
brute-force rate. See the module doc for the lock-out trade-off."""
DEFAULT_MAX_LIFETIME_S = 30 * 24 * 3600
"""How long a session can last after sign-in however much it is used (``0`` turns the cap off).

Why 30 days: long enough that a daily user signs in about once a month, short enough that a
session cookie copied off a machine stops working on its own within weeks."""
_CSRF_LABEL = b"opencompress-csrf-v1"


def _digest(text: str) -> str:
    """A limiter key part that does not store the email or address it stands for."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an IP address (a unix socket path, a test client's name)
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None  # ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def hash_session_token(token: str) -> str:
    """SHA-256 hex: what the sessions table stores and looks up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token_for(session_token: str) -> str:
    digest = hmac.new(session_token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def csrf_matches(session_token: str, presented: str | None) -> bool:
    """Constant-time check of a presented CSRF token against the session's."""
    if not presented:
        return False
    return hmac.compare_digest(csrf_token_for(session_token).encode(), presented.strip().encode("utf-8"))


@dataclass(frozen=True)
class ActiveSession:
    """A signed-in caller. ``token`` is the raw session token: set it as the cookie, never log it."""

    account: Account
    token: str
    csrf_token: str
    expires_at: float
    renewed: bool = False
    """The expiry was just moved forward: the cookie should be sent again with a fresh lifetime."""

    def __repr__(self) -> str:
        return f"ActiveSession(account={self.account.id!r}, expires_at={self.expires_at!r}, token=<redacted>)"


_BAD_LOGIN = "Invalid email or password."


async def _take_slot(
    limiter: RateLimiter, slots: contextlib.AsyncExitStack, bucket: str, per_minute: int, scope: str
) -> None:
    """Count one sign-in attempt against ``bucket`` (its slot is released when ``slots`` closes),
    or raise the 429."""
    lease = secrets.token_hex(8)
    decision = await limiter.acquire(bucket, Limits(rpm=per_minute, concurrency=per_minute), lease)
    if not decision.allowed:
        raise RateLimitError(
            f"Too many sign-in attempts {scope}. Retry after {decision.retry_after_s:.0f}s.",
            retry_after=decision.retry_after_s,
            code="too_many_sign_in_attempts",
        )
    slots.push_async_callback(limiter.release, bucket, lease)


class SessionService:
    def __init__(
        self,
        storage: Storage,
        *,
        ttl_s: float,
        max_lifetime_s: float = DEFAULT_MAX_LIFETIME_S,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.ttl_s = ttl_s
        self.max_lifetime_s = max_lifetime_s
        """Seconds after sign-in at which a session ends however it is used; ``0``: no cap."""
        self._limiter = limiter
        self._clock = clock

    async def sign_in(self, email: str, password: str, *, client: str | None = None) -> ActiveSession:
        """A new session for valid credentials; one generic ``AuthError`` for every failure (unknown
        email, wrong password, account without a password), with the same hashing work.
        ``RateLimitError`` (429) after too many attempts for one email from ``client`` (the
        caller's network address), from ``client`` across all emails, or for one email across
        all addresses; a capped attempt is refused without checking its password, the right
        one included (see the module doc for why)."""
        if not isinstance(email, str) or not isinstance(password, str):
            raise AuthError(_BAD_LOGIN, code="invalid_credentials")
        clean_email = email.strip().lower()
        limiter = self._limiter
        if limiter is None:
            return await self._sign_in(clean_email, password)
        async with contextlib.AsyncExitStack() as slots:
            if client is not None and not _is_loopback(client):
                # The address budget first: a sprayed email then never gets a limiter key at all.
                await _take_slot(
                    limiter,
                    slots,
                    "login-client:" + _digest(client),
                    LOGIN_ATTEMPTS_PER_CLIENT_PER_MINUTE,
                    "from this address",
                )
            pair = clean_email if client is None else f"{clean_email}\n{client}"
            await _take_slot(
                limiter, slots, "login:" + _digest(pair), LOGIN_ATTEMPTS_PER_MINUTE, "for this email"
            )
            if client is not None:  # without an address, the pair budget above is the email's
                await _take_slot(
                    limiter,
                    slots,
                    "login-email:" + _digest(clean_email),
                    LOGIN_ATTEMPTS_PER_EMAIL_PER_MINUTE,
                    "for this email",
                )
            return await self._sign_in(clean_email, password)

    async def _sign_in(self, email: str, password: str) -> ActiveSession:
        account = await self.storage.get_account_by_email(email)
        stored = await self.storage.get_password_hash(account.id) if account is not None else None
        ok = await asyncio.to_thread(passwords.verify_password, stored, password)
        if account is None or stored is None or not ok:
            raise AuthError(_BAD_LOGIN, code="invalid_credentials")
        if passwords.needs_rehash(stored):
            await self.storage.set_password_hash(
                account.id, await asyncio.to_thread(passwords.hash_password, password)
            )
        token = new_session_token()
        now = self._clock()
        session = await self.storage.create_session(
            token_hash=hash_session_token(token),
            account_id=account.id,
            expires_at=min(now + self.ttl_s, self._ends_at(now)),
        )
        return ActiveSession(
            account=account, token=token, csrf_token=csrf_token_for(token), expires_at=session.expires_at
        )

    async def resume(self, token: str | None) -> ActiveSession:
        """The session a cookie names; ``AuthError`` when missing, unknown, expired or orphaned."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthError("Sign in first: no valid session.", code="no_session")
        token_hash = hash_session_token(token)
        session = await self.storage.get_session(token_hash)
        if session is None:
            raise AuthError("Your session is not valid; sign in again.", code="invalid_session")
        now = self._clock()
        ends_at = self._ends_at(session.created_at)
        if session.expires_at <= now or ends_at <= now:
            await self.storage.delete_session(token_hash)
            raise AuthError("Your session has expired; sign in again.", code="session_expired")
        account = await self.storage.get_account(session.account_id)
        if account is None:
            raise AuthError("Your session is not valid; sign in again.", code="invalid_session")
        expires_at, renewed = min(session.expires_at, ends_at), False
        if expires_at - now < self.ttl_s / 2:
            # Slide, but never past the cap: once the expiry sits on it there is nothing to write.
            target = min(now + self.ttl_s, ends_at)
            if target > expires_at and await self.storage.extend_session(token_hash, target):
                expires_at, renewed = target, True
        return ActiveSession(
            account=account,
            token=token,
            csrf_token=csrf_token_for(token),
            expires_at=expires_at,
            renewed=renewed,
        )

    def _ends_at(self, created_at: float) -> float:
        """When a session signed in at ``created_at`` ends however it is used."""
        return created_at + self.max_lifetime_s if self.max_lifetime_s > 0 else math.inf

    async def sign_out(self, token: str | None) -> None:
        if token and len(token) <= MAX_TOKEN_LENGTH:
            await self.storage.delete_session(hash_session_token(token))
