"""Sign-in sessions for account owners (REST API and dashboard): email + password → session token.

The token is 32 random bytes (``secrets``), handed to the browser once in an HttpOnly cookie and
stored only as its SHA-256, so a database copy cannot be replayed as a cookie. Sessions slide:
a session lives ``settings.session_ttl_s`` after sign-in, and once it is used with less than half
of that left, its expiry moves to a full lifetime from now (one write per half-lifetime, not per
request) and :attr:`ActiveSession.renewed` tells the web layer to re-send the cookie with the new
lifetime. Someone who keeps using the dashboard stays signed in; an idle session still ends.
Sign-out deletes the row; a password change deletes every session of the account (in the
storage transaction).

CSRF: each session has a token derived from the session token by HMAC-SHA256. The server can
recompute it from the cookie on every request, so nothing extra is stored, and it cannot be
derived from anything in the database. Browsers send it back in ``X-CSRF-Token`` on
state-changing requests; a cross-site page can neither read the cookie nor the token.

Guessing: with a rate limiter, each email gets :data:`LOGIN_ATTEMPTS_PER_MINUTE` sign-in attempts
per minute (successful ones included), shared across replicas when the limiter is Redis-backed;
the limiter key is a hash of the email, so no address is stored in it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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
_CSRF_LABEL = b"opencompress-csrf-v1"


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


class SessionService:
    def __init__(
        self,
        storage: Storage,
        *,
        ttl_s: float,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.ttl_s = ttl_s
        self._limiter = limiter
        self._clock = clock

    async def sign_in(self, email: str, password: str) -> ActiveSession:
        """A new session for valid credentials; one generic ``AuthError`` for every failure (unknown
        email, wrong password, account without a password), with the same hashing work.
        ``RateLimitError`` (429) after too many attempts for one email."""
        if not isinstance(email, str) or not isinstance(password, str):
            raise AuthError(_BAD_LOGIN, code="invalid_credentials")
        clean_email = email.strip().lower()
        if self._limiter is None:
            return await self._sign_in(clean_email, password)
        bucket = "login:" + hashlib.sha256(clean_email.encode("utf-8")).hexdigest()[:32]
        lease = secrets.token_hex(8)
        limits = Limits(rpm=LOGIN_ATTEMPTS_PER_MINUTE, concurrency=LOGIN_ATTEMPTS_PER_MINUTE)
        decision = await self._limiter.acquire(bucket, limits, lease)
        if not decision.allowed:
            raise RateLimitError(
                f"Too many sign-in attempts for this email. Retry after {decision.retry_after_s:.0f}s.",
                retry_after=decision.retry_after_s,
                code="too_many_sign_in_attempts",
            )
        try:
            return await self._sign_in(clean_email, password)
        finally:
            await self._limiter.release(bucket, lease)

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
        session = await self.storage.create_session(
            token_hash=hash_session_token(token), account_id=account.id, expires_at=self._clock() + self.ttl_s
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
        if session.expires_at <= now:
            await self.storage.delete_session(token_hash)
            raise AuthError("Your session has expired; sign in again.", code="session_expired")
        account = await self.storage.get_account(session.account_id)
        if account is None:
            raise AuthError("Your session is not valid; sign in again.", code="invalid_session")
        expires_at, renewed = session.expires_at, False
        if expires_at - now < self.ttl_s / 2:
            renewed = await self.storage.extend_session(token_hash, now + self.ttl_s)
            if renewed:
                expires_at = now + self.ttl_s
        return ActiveSession(
            account=account,
            token=token,
            csrf_token=csrf_token_for(token),
            expires_at=expires_at,
            renewed=renewed,
        )

    async def sign_out(self, token: str | None) -> None:
        if token and len(token) <= MAX_TOKEN_LENGTH:
            await self.storage.delete_session(hash_session_token(token))
