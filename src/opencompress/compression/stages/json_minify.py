"""Lossless JSON minification of message content that is a whole JSON document.

Values stay equal and key order is kept (no sorting, no key aliasing): the model sees the same
object with fewer whitespace tokens."""

from __future__ import annotations

import json

from opencompress.compression.base import Message, StageContext


def minify(text: str) -> str | None:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    out = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return out if len(out) < len(text) else None


class JsonMinify:
    name = "json_minify"

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        out: list[Message] = []
        for m in messages:
            content = m.get("content")
            if isinstance(content, str) and m.get("role") in ("user", "tool", "system", "function"):
                new = minify(content)
                if new is not None:
                    m = {**m, "content": new}
            out.append(m)
        return out
