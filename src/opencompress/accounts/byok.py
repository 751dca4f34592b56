"""Encryption at rest for BYOK upstream keys (AES-256-GCM from ``cryptography``).

A stored provider key is ``0x01 || nonce (12 random bytes) || ciphertext+tag``. The version byte
leaves room for key rotation. The associated data names the owning account, so a ciphertext
copied into another account's key row fails authentication instead of lending that account
someone else's provider key.

The 32-byte secret comes from ``OPENCOMPRESS_SECRET_KEY`` (base64), or else from
``settings.secret_key_file``. That file is created (mode 0600, atomically) the first time a key
is encrypted or decrypted, not at startup, so gateways that never see a BYOK key leave no file
behind. Losing the secret makes every stored BYOK key unreadable: requests with such keys fail
with a 500 ``byok_key_unreadable`` until the owner creates a new key; nothing else is affected.
Neither the secret nor a decrypted provider key is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from opencompress.config import Settings
from opencompress.errors import OpenCompressError

log = logging.getLogger("opencompress.byok")

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = b"\x01"
_AD_PREFIX = b"opencompress-byok-v1:"


class ByokConfigError(RuntimeError):
    """The configured secret is malformed or its file unusable: an operator error found at startup
    or on first use, never a client error."""


class ByokKeyUnreadableError(OpenCompressError):
    """A stored BYOK key cannot be decrypted (the operator's secret changed, or the row was tampered
    with or moved to another account)."""

    default_code = "byok_key_unreadable"


def parse_secret(text: str, *, source: str) -> bytes:
    """Decode a base64 (standard or URL-safe) 32-byte secret; ``source`` names it in errors."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ByokConfigError(f"{source} is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ByokConfigError(f"{source} must decode to {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def read_or_create_key_file(path: Path) -> bytes:
    """The secret in ``path``, creating it (0600) with a fresh random key when it does not exist.

    Creation writes a private temporary file and hard-links it into place, so two processes
    starting together agree on one key and nobody ever reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
                log.warning(
                    "created the BYOK secret key file %s (mode 0600); back it up: stored BYOK keys "
                    "cannot be decrypted without it",
                    path,
                )
            except FileExistsError:
                pass  # another process won the race; use its key
        finally:
            tmp.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "the BYOK secret key file %s is readable by other users (mode %o); chmod 600 it", path, mode
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ByokConfigError(f"cannot read the BYOK secret key file {path}: {exc}") from None
    return parse_secret(text, source=f"the BYOK secret key file {path}")


class ByokCipher:
    """Encrypts and decrypts BYOK provider keys; the secret is loaded once, on first use."""

    def __init__(self, loader: Callable[[], bytes]) -> None:
        self._loader = loader
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_key(cls, key: bytes) -> ByokCipher:
        if len(key) != KEY_BYTES:
            raise ByokConfigError(f"the BYOK secret must be {KEY_BYTES} bytes")
        return cls(lambda: key)

    @classmethod
    def from_settings(cls, settings: Settings) -> ByokCipher:
        """``settings.secret_key`` (checked now, so a typo fails at startup) or the key file (lazily)."""
        if settings.secret_key:
            key = parse_secret(settings.secret_key, source="OPENCOMPRESS_SECRET_KEY")
            return cls.from_key(key)
        path = Path(settings.secret_key_file).expanduser()
        return cls(lambda: read_or_create_key_file(path))

    def _cipher(self) -> AESGCM:
        with self._lock:
            if self._aead is None:
                self._aead = AESGCM(self._loader())
            return self._aead

    def encrypt(self, secret: str, *, account_id: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._cipher().encrypt(nonce, secret.encode("utf-8"), _associated(account_id))
        return VERSION + nonce + sealed

    def decrypt(self, blob: bytes, *, account_id: str) -> str:
        """The provider key, or :class:`ByokKeyUnreadableError` (whose message holds no secret)."""
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
            raise ByokKeyUnreadableError(_UNREADABLE)
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = self._cipher().decrypt(nonce, sealed, _associated(account_id))
        except InvalidTag:
            raise ByokKeyUnreadableError(_UNREADABLE) from None
        return plain.decode("utf-8")


_UNREADABLE = (
    "The provider key stored with this BYOK key cannot be decrypted (the gateway's secret key "
    "changed). Create a new BYOK key, or send the provider key in the x-upstream-key header."
)


def _associated(account_id: str) -> bytes:
    return _AD_PREFIX + account_id.encode("utf-8")
