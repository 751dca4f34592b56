"""``sk-occ-`` API keys: generation, hashing, display prefix, shape check.

A key is ``sk-occ-`` + ``secrets.token_urlsafe(32)`` (43 URL-safe characters, 256 bits). Only
its SHA-256 hex digest is stored — a fast hash is right here because the key is random and
long, unlike a password — together with a short display prefix so users can tell keys apart.
Lookups go by hash through the database index; where two digests are compared in Python the
comparison is constant-time (:func:`same_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_PREFIX = "sk-occ-"
DISPLAY_PREFIX_LENGTH = 15
"""``sk-occ-`` plus 8 characters, e.g. ``sk-occ-dUioZ7ag``."""

_KEY_SHAPE = re.compile(r"sk-occ-[A-Za-z0-9_-]{32,128}")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 hex digest of the full key: what the database stores and indexes."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def looks_like_key(value: str) -> bool:
    """True for something shaped like an ``sk-occ-`` key (checked before any database lookup)."""
    return _KEY_SHAPE.fullmatch(value) is not None


def same_digest(a: str, b: str) -> bool:
    """Constant-time equality of two hex digests."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))
