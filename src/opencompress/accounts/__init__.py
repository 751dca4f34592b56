"""Accounts and ``sk-occ`` keys: generation, hashing, authentication and management."""

from __future__ import annotations

from opencompress.accounts.keys import (
    KEY_PREFIX,
    display_prefix,
    generate_key,
    hash_key,
    looks_like_key,
    same_digest,
)
from opencompress.accounts.service import DEMO_CREDIT_MICROS, MAX_ACTIVE_KEYS, AccountService

__all__ = [
    "DEMO_CREDIT_MICROS",
    "KEY_PREFIX",
    "MAX_ACTIVE_KEYS",
    "AccountService",
    "display_prefix",
    "generate_key",
    "hash_key",
    "looks_like_key",
    "same_digest",
]
