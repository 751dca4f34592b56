"""Offline token counting with OpenAI's own BPE ranks.

tiktoken would download ``o200k_base`` on first use; we cannot. The ``bpe-openai`` wheel ships the
same rank files gzipped, so we decompress them, check them against the sha256 that tiktoken itself
expects (read from ``tiktoken_ext.openai_public`` at run time, not hard-coded), and build a
``tiktoken.Encoding`` from them. The result is cached per process.

Message counts follow OpenAI's chat billing: 3 tokens of framing per message, 1 more for a
``name``, and 3 to prime the reply. Image parts are counted as a flat estimate
(:data:`IMAGE_PART_TOKENS`) because their real cost depends on pixels we do not decode. Counts for
non-OpenAI models are o200k estimates (Llama-3 within ~1%, Claude ≈ 1.2–1.3×); the upstream's
reported ``usage`` stays the ground truth for billing output tokens.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken_ext.openai_public as openai_public

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
IMAGE_PART_TOKENS = 85
ENCODINGS = ("o200k_base", "cl100k_base")

_load_lock = threading.Lock()


def _rank_bytes(name: str) -> bytes:
    # Locate the wheel's data without importing bpe_openai itself (that would load its 74 MB
    # native extension, which we do not use).
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the bpe-openai package (which ships the BPE rank files) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    return gzip.decompress(path.read_bytes())


def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """Build the named encoding from the shipped ranks, verified against tiktoken's expected hash.

    Cached per name (``get_encoding()`` and ``get_encoding("o200k_base")`` share one copy)."""
    return _build_encoding(name)


@lru_cache(maxsize=len(ENCODINGS))
def _build_encoding(name: str) -> tiktoken.Encoding:
    if name not in ENCODINGS:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(ENCODINGS)}")
    constructor: Callable[[], dict[str, Any]] = getattr(openai_public, name)
    raw = _rank_bytes(name)

    def load_from_wheel(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        digest = hashlib.sha256(raw).hexdigest()
        if expected_hash and digest != expected_hash:
            raise RuntimeError(f"{name} ranks from bpe-openai do not match tiktoken's sha256 ({digest})")
        ranks: dict[bytes, int] = {}
        for line in raw.splitlines():
            if line:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
        return ranks

    with _load_lock:  # the constructor looks the loader up as a module global; swap it briefly
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = load_from_wheel
        try:
            kwargs = constructor()
        finally:
            openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**kwargs)


def count_text(text: str, encoding: str = "o200k_base") -> int:
    """Tokens in ``text`` (special-token strings are counted as ordinary text, as a prompt would be)."""
    if not text:
        return 0
    return len(get_encoding(encoding).encode_ordinary(text))


@lru_cache(maxsize=2048)
def _count_cached(text: str, encoding: str) -> int:
    return len(get_encoding(encoding).encode_ordinary(text))


def _content_tokens(content: Any, enc: tiktoken.Encoding) -> int:
    if isinstance(content, str):
        if not content:
            return 0
        # the same message text is counted before and after compression and again on every turn
        return _count_cached(content, enc.name) if len(content) >= 256 else len(enc.encode_ordinary(content))
    total = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                total += len(enc.encode_ordinary(part["text"]))
            elif part.get("type") in ("image_url", "input_image", "image"):
                total += IMAGE_PART_TOKENS
    return total


def count_messages(messages: Iterable[Mapping[str, Any]], encoding: str = "o200k_base") -> int:
    """Prompt tokens of a chat ``messages`` list, counted the way OpenAI bills chat requests."""
    enc = get_encoding(encoding)
    total = REPLY_PRIMING_TOKENS
    for message in messages:
        total += TOKENS_PER_MESSAGE
        role = message.get("role")
        if isinstance(role, str):
            total += _count_cached(role, encoding)  # a handful of distinct roles: always a cache hit
        total += _content_tokens(message.get("content"), enc)
        name = message.get("name")
        if isinstance(name, str):
            total += TOKENS_PER_NAME + len(enc.encode_ordinary(name))
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                total += len(enc.encode_ordinary(str(function.get("name", ""))))
                total += len(enc.encode_ordinary(str(function.get("arguments", ""))))
        call_id = message.get("tool_call_id")
        if isinstance(call_id, str):
            total += len(enc.encode_ordinary(call_id))
    return total
