"""Password hashing: argon2id, rules, verification without leaks."""

from __future__ import annotations

import pytest

from opencompress.accounts import passwords
from opencompress.errors import InvalidRequestError


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = passwords.hash_password("correct horse battery")
    second = passwords.hash_password("correct horse battery")
    assert first.startswith("$argon2id$") and first != second
    assert "correct horse" not in first
    assert passwords.verify_password(first, "correct horse battery")
    assert passwords.verify_password(second, "correct horse battery")
    assert not passwords.verify_password(first, "correct horse batterY")
    assert not passwords.needs_rehash(first)


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$broken"])
def test_missing_or_malformed_hash_never_verifies(stored: str | None) -> None:
    assert passwords.verify_password(stored, "whatever-password") is False
    assert passwords.verify_password(stored, "opencompress-timing-equaliser") is False


def test_rules_reject_short_and_huge_passwords_without_echoing_them() -> None:
    with pytest.raises(InvalidRequestError) as short:
        passwords.hash_password("seven77")
    assert "seven77" not in short.value.message and short.value.param == "password"
    with pytest.raises(InvalidRequestError):
        passwords.hash_password("x" * (passwords.MAX_PASSWORD_LENGTH + 1))
    assert passwords.verify_password(passwords.hash_password("eight888"), "x" * 5000) is False


def test_weaker_parameters_need_a_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("legacy-password")
    assert passwords.verify_password(weak, "legacy-password")
    assert passwords.needs_rehash(weak)
    assert passwords.needs_rehash("garbage")
