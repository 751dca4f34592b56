"""A non-streaming answer keeps the provider's bytes; only its id becomes the gateway's ``gen-…``."""

from __future__ import annotations

import json

from opencompress.gateway.chat import _with_id

REQUEST_ID = "gen-abc_123"


def _spliced(payload: bytes) -> bytes | None:
    return _with_id(payload, json.loads(payload), REQUEST_ID)


def test_only_the_id_changes_and_every_other_byte_stays() -> None:
    payload = b'{"id": "chatcmpl-9x\\u00e9", "object":"chat.completion", "created": 1.0e9, "choices": []}\n'
    out = _spliced(payload)
    assert out == payload.replace(b"chatcmpl-9x\\u00e9", REQUEST_ID.encode())
    assert json.loads(out or b"")["id"] == REQUEST_ID


def test_an_id_that_is_not_the_first_key_is_left_to_re_encoding() -> None:
    assert _spliced(b'{"object": "chat.completion", "id": "x", "choices": []}') is None
    assert _spliced(b'{"choices": [{"id": "x"}], "id": "y"}') is None


def test_a_duplicate_id_key_is_left_to_re_encoding() -> None:
    """Parsers keep the last of duplicate keys: splicing the first would leave the upstream's id."""
    assert _spliced(b'{"id": "a", "choices": [], "id": "b"}') is None


def test_escaped_quotes_inside_the_id_are_spliced_whole() -> None:
    payload = b'{"id": "a\\"b", "choices": []}'
    assert _spliced(payload) == b'{"id": "' + REQUEST_ID.encode() + b'", "choices": []}'
