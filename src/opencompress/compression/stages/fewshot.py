"""Few-shot demonstration budget (stub: pass-through for now)."""

from __future__ import annotations

from opencompress.compression.base import Message, StageContext


class FewShotBudget:
    name = "fewshot"

    def __init__(self, *, keep_ratio: float = 0.45, min_keep: int = 1, min_tokens: int = 400) -> None:
        self.keep_ratio = keep_ratio
        self.min_keep = min_keep
        self.min_tokens = min_tokens

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return messages
