"""Low-information prose word pruning (aggressive level only), under hard-keep rules.

See :func:`opencompress.compression.text.prune.prune_prose` for what is dropped and what is never
touched. The stage is query-independent and per-message pure, so it applies to every eligible
message (frozen ones too): a message compresses to the same bytes on every turn, which is what
keeps provider prompt caches hitting.

Why only ``system``/``developer``/``tool`` by default: every user message was the *last* user
message when it was first sent (and the last user message is never altered), so pruning it on a
later turn would change bytes the provider already cached. Assistant turns are the model's own words.
"""

from __future__ import annotations

from collections.abc import Sequence

from opencompress.compression.base import Message, StageContext
from opencompress.compression.text.prune import prune_prose
from opencompress.compression.text.turn import last_user_index

CHARS_PER_TOKEN = 4


class ProsePruning:
    name = "prose_prune"

    def __init__(
        self,
        *,
        max_drop: float = 0.2,
        min_tokens: int = 200,
        roles: Sequence[str] = ("system", "developer", "tool"),
    ) -> None:
        self.max_drop = max_drop
        self.min_tokens = min_tokens
        self.roles = tuple(roles)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        skip = last_user_index(messages)
        min_chars = self.min_tokens * CHARS_PER_TOKEN
        out: list[Message] | None = None
        for i, m in enumerate(messages):
            content = m.get("content")
            if i == skip or m.get("role") not in self.roles or not isinstance(content, str):
                continue
            if len(content) < min_chars:
                continue
            new = prune_prose(content, self.max_drop)
            if new is None or len(new) >= len(content):
                continue
            if out is None:
                out = list(messages)
            out[i] = {**m, "content": new}
        return messages if out is None else out
