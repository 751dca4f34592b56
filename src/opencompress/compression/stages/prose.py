"""Low-information prose word pruning under hard-keep rules (stub: pass-through for now)."""

from __future__ import annotations

from opencompress.compression.base import Message, StageContext


class ProsePruning:
    name = "prose_prune"

    def __init__(self, *, max_drop: float = 0.2, min_tokens: int = 200) -> None:
        self.max_drop = max_drop
        self.min_tokens = min_tokens

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return messages
