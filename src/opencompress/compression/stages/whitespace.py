"""Lossless whitespace normalisation outside code: trailing spaces, runs of blank lines, runs of
spaces inside prose lines. Fenced code blocks (```) are left byte-for-byte alone because
indentation can be meaning."""

from __future__ import annotations

import re

from opencompress.compression.base import Message, StageContext

_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.S)
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")
_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")


def normalise(text: str) -> str:
    parts = _FENCE.split(text)
    for i in range(0, len(parts), 2):  # even indices are outside fences
        chunk = _TRAILING.sub("\n", parts[i])
        chunk = _BLANK_RUNS.sub("\n\n", chunk)
        parts[i] = _INNER_SPACES.sub(" ", chunk)
    return "".join(parts).strip(" \t\n") if len(parts) == 1 else "".join(parts)


class Whitespace:
    name = "whitespace"

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        out: list[Message] = []
        for m in messages:
            content = m.get("content")
            if isinstance(content, str) and m.get("role") != "assistant":
                new = normalise(content)
                if new != content:
                    m = {**m, "content": new}
            out.append(m)
        return out
