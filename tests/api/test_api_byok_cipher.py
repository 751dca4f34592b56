"""BYOK key encryption: AES-GCM round trip, tamper/move detection, secret from env or a 0600 file."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest

from opencompress.accounts.byok import (
    ByokCipher,
    ByokConfigError,
    ByokKeyUnreadableError,
    parse_secret,
    read_or_create_key_file,
)
from opencompress.config import Settings

SECRET = "sk-provider-VERY-SECRET-0123456789"


def _cipher() -> ByokCipher:
    return ByokCipher.from_key(os.urandom(32))


def test_round_trip_with_fresh_nonces() -> None:
    cipher = _cipher()
    a = cipher.encrypt(SECRET, account_id="acct_1")
    b = cipher.encrypt(SECRET, account_id="acct_1")
    assert a != b and a[:1] == b"\x01" and len(a) == 1 + 12 + len(SECRET) + 16
    assert SECRET.encode() not in a
    assert cipher.decrypt(a, account_id="acct_1") == SECRET == cipher.decrypt(b, account_id="acct_1")


def test_ciphertext_bound_to_account_and_tamper_evident() -> None:
    cipher = _cipher()
    blob = cipher.encrypt(SECRET, account_id="acct_1")
    with pytest.raises(ByokKeyUnreadableError) as moved:
        cipher.decrypt(blob, account_id="acct_2")
    assert SECRET not in moved.value.message and moved.value.status == 500
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    for bad in (bytes(flipped), blob[:10], b"\x02" + blob[1:], b""):
        with pytest.raises(ByokKeyUnreadableError):
            cipher.decrypt(bad, account_id="acct_1")
    with pytest.raises(ByokKeyUnreadableError):
        _cipher().decrypt(blob, account_id="acct_1")  # another gateway secret


def test_secret_from_settings_env_value() -> None:
    raw = os.urandom(32)
    settings = Settings.load(env={"OPENCOMPRESS_SECRET_KEY": base64.urlsafe_b64encode(raw).decode()})
    assert settings.secret_key and settings.secret_key not in repr(settings)
    blob = ByokCipher.from_settings(settings).encrypt(SECRET, account_id="a")
    assert ByokCipher.from_key(raw).decrypt(blob, account_id="a") == SECRET


@pytest.mark.parametrize("text", ["not base64!!", base64.b64encode(b"short").decode(), ""])
def test_bad_env_secret_fails_at_startup(text: str) -> None:
    with pytest.raises(ByokConfigError) as err:
        ByokCipher.from_settings(Settings.load(env={}).replace(secret_key=text or "==="))
    assert "OPENCOMPRESS_SECRET_KEY" in str(err.value)
    with pytest.raises(ByokConfigError):
        parse_secret(text, source="x")


def test_key_file_created_lazily_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "secret.key"
    settings = Settings.load(env={}).replace(secret_key_file=str(path))
    cipher = ByokCipher.from_settings(settings)
    assert not path.exists()  # nothing written until a BYOK key is used
    blob = cipher.encrypt(SECRET, account_id="a")
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text().strip())) == 32
    assert ByokCipher.from_settings(settings).decrypt(blob, account_id="a") == SECRET
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temp files left


def test_concurrent_creation_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "race.key"
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(read_or_create_key_file(path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_corrupt_key_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.key"
    path.write_text("garbage")
    path.chmod(0o600)
    cipher = ByokCipher.from_settings(Settings.load(env={}).replace(secret_key_file=str(path)))
    with pytest.raises(ByokConfigError):
        cipher.encrypt(SECRET, account_id="a")
