"""Account passwords: argon2id hashes (``argon2-cffi``), never the password itself.

Why argon2id with the library's default (RFC 9106 low-memory) parameters: a password is short
and guessable, unlike an ``sk-occ`` key, so its hash must be slow and memory-hard. The parameters
travel inside the encoded hash, so raising them later only needs :func:`needs_rehash` at the
next sign-in. Hashing costs ~50-100 ms of CPU: async callers run these functions in a thread.

:func:`verify_password` also burns one hash when there is no stored hash (unknown email, an
account without a password), so response time does not reveal which emails exist.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from opencompress.errors import InvalidRequestError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
"""Upper bound so a multi-megabyte "password" cannot be used to burn server CPU."""

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
"""Verified against when there is no stored hash; its password is random, so nothing matches it."""


def check_password_rules(password: str) -> None:
    """``InvalidRequestError`` (never echoing the password) unless 8-1024 characters."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", param="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequestError(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters", param="password"
        )


def hash_password(password: str) -> str:
    """The encoded argon2id hash (``$argon2id$v=19$m=…``) of a password that passes the rules."""
    check_password_rules(password)
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False for a mismatch, a malformed hash or
    no hash at all (after the same amount of work, see the module doc)."""
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        matched = _HASHER.verify(stored_hash or _DUMMY_HASH, password)
        return matched and bool(stored_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (re-hash at sign-in)."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True
