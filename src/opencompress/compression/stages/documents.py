"""Question-aware selection of documents in large RAG-style content (stub: pass-through for now)."""

from __future__ import annotations

from opencompress.compression.base import Message, StageContext


class DocumentSelection:
    name = "documents"

    def __init__(self, *, keep_ratio: float = 0.4, min_tokens: int = 600) -> None:
        self.keep_ratio = keep_ratio
        self.min_tokens = min_tokens

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return messages
