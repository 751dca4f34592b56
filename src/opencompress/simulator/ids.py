"""Deterministic identifiers shaped like OpenAI's.

Ids are derived from a hash of the request so a replayed test sees the same tool-call ids, while the
completion id also mixes in a per-app counter so two identical requests still get distinct
``chatcmpl-…`` ids (real upstreams never repeat one, and the gateway may key logs on them).
"""

from __future__ import annotations

import hashlib
import string

_ALPHABET = string.digits + string.ascii_letters
SYSTEM_FINGERPRINT = "fp_" + hashlib.sha256(b"opencompress-simulator").hexdigest()[:10]


def base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        out.append(_ALPHABET[rest])
    return "".join(out)


def digest(*parts: bytes | str) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.digest()


def completion_id(raw_body: bytes, counter: int) -> str:
    """``chatcmpl-`` + 29 characters, like OpenAI's."""
    return "chatcmpl-" + base62(digest(raw_body, str(counter)), 29)


def call_id(seed: str) -> str:
    """``call_`` + 24 characters, deterministic from the request body hash and the choice index."""
    return "call_" + base62(digest("call", seed), 24)


def request_id(raw_body: bytes, counter: int) -> str:
    return "req_" + hashlib.sha256(digest("req", raw_body, str(counter))).hexdigest()[:32]
