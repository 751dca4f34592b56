"""The reference the gateway's tokenizer is held to: tiktoken, built offline from OpenAI's ranks.

tiktoken would download ``o200k_base`` on first use; it cannot here. The ``bpe-openai`` wheel ships
the same rank files gzipped, so they are decompressed, checked against the sha256 tiktoken itself
expects (read from ``tiktoken_ext.openai_public``, not hard-coded), and turned into a
``tiktoken.Encoding``. Test-only: the product counts with quicktok (see opencompress/tokens.py).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken_ext.openai_public as openai_public

_load_lock = threading.Lock()


def rank_bytes(name: str) -> bytes:
    """The decompressed rank file from the bpe-openai wheel (its 74 MB extension is not loaded)."""
    spec = importlib.util.find_spec("bpe_openai")
    assert spec is not None and spec.submodule_search_locations, "bpe-openai is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
    return gzip.decompress(path.read_bytes())


@lru_cache(maxsize=2)
def reference_encoding(name: str) -> tiktoken.Encoding:
    constructor: Callable[[], dict[str, Any]] = getattr(openai_public, name)
    raw = rank_bytes(name)

    def load_from_wheel(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        digest = hashlib.sha256(raw).hexdigest()
        if expected_hash and digest != expected_hash:
            raise AssertionError(f"{name} ranks from bpe-openai do not match tiktoken's sha256 ({digest})")
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
