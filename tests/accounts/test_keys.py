"""Key format, hashing, display prefix and shape checks."""

from __future__ import annotations

import hashlib

import pytest

from opencompress.accounts import display_prefix, generate_key, hash_key, looks_like_key, same_digest


def test_generated_keys_have_the_documented_shape() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("sk-occ-") and len(key) == 7 + 43
        assert looks_like_key(key)
        assert display_prefix(key) == key[:15] and len(display_prefix(key)) == 15


def test_hash_is_sha256_hex() -> None:
    key = "sk-occ-" + "a" * 43
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert len(hash_key(key)) == 64 and hash_key(key) != hash_key(key + "b")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sk-occ-",
        "sk-occ-" + "a" * 31,  # too short
        "sk-" + "a" * 43,  # an OpenAI key, not ours
        "sk-occ-" + "a" * 42 + "!",
        "sk-occ-" + "a" * 43 + "\n",
        " sk-occ-" + "a" * 43,
        "sk-occ-" + "a" * 129,
    ],
)
def test_looks_like_key_rejects(value: str) -> None:
    assert not looks_like_key(value)


def test_same_digest() -> None:
    digest = hash_key(generate_key())
    assert same_digest(digest, digest)
    assert not same_digest(digest, digest[:-1] + ("0" if digest[-1] != "0" else "1"))
    assert not same_digest(digest, "")
