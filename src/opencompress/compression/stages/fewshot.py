"""Few-shot demonstration budget: keep the demonstrations most relevant to the question, whole.

LLMLingua's budget controller gets most of its few-shot savings by dropping whole demonstrations;
cutting *inside* a chain-of-thought demonstration is where quality is lost (numbers, number
words). So this stage only ever keeps or drops complete demonstrations (see
:mod:`opencompress.compression.text.demos`), ranks them by BM25 against the question, keeps them
greedily within ``keep_ratio`` of the demonstration characters (at least ``min_keep``), and writes
the kept ones in their original order with the instruction and the real question untouched.
``Policy.rate``, when set, overrides ``keep_ratio``."""

from __future__ import annotations

from collections.abc import Sequence

from opencompress.compression.base import Message, StageContext
from opencompress.compression.text.bm25 import BM25, index_terms, query_terms, rank
from opencompress.compression.text.demos import Demo, find_demonstrations
from opencompress.compression.text.turn import edit_current, edit_question, last_user_index, question_blocks

CHARS_PER_TOKEN = 4


def select_demonstrations(
    text: str, demos: Sequence[Demo], query: list[str], keep_ratio: float, min_keep: int
) -> list[Demo]:
    """The demonstrations to keep, in original order."""
    scores = BM25([index_terms(text[d.start : d.end]) for d in demos], vocabulary=query).scores(query)
    budget = keep_ratio * sum(d.end - d.start for d in demos)
    kept: list[int] = []
    used = 0
    for i in rank(scores):
        cost = demos[i].end - demos[i].start
        if used + cost <= budget or len(kept) < min_keep:
            kept.append(i)
            used += cost
    return [demos[i] for i in sorted(kept)]


def drop_demonstrations(text: str, demos: Sequence[Demo], kept: Sequence[Demo]) -> str:
    keep = set(kept)
    out: list[str] = []
    cursor = 0
    for d in demos:
        out.append(text[cursor : d.start])
        if d in keep:
            out.append(text[d.start : d.end])
        cursor = d.end
    out.append(text[cursor:])
    return "".join(out)


class FewShotBudget:
    name = "fewshot"
    edits_question = True
    """The question's own message may be edited, inside its demonstrations only: a prompt sent as
    one user message (examples, then the real question) is ranked against the text outside them."""

    def __init__(
        self,
        *,
        keep_ratio: float = 0.45,
        min_keep: int = 1,
        min_tokens: int = 400,
        roles: Sequence[str] = ("system", "user", "developer"),
    ) -> None:
        self.keep_ratio = keep_ratio
        self.min_keep = max(1, min_keep)
        self.min_tokens = min_tokens
        self.roles = tuple(roles)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        ratio = ctx.policy.rate if ctx.policy.rate is not None else self.keep_ratio
        if ratio >= 1.0:
            return messages
        min_chars = self.min_tokens * CHARS_PER_TOKEN
        query = ctx.query
        q_index = last_user_index(messages)
        inline: dict[str, list[Demo]] = {}
        if q_index > ctx.frozen_until:
            inline, outside = question_blocks(messages[q_index], min_chars, find_demonstrations)
            if inline:
                query = outside
        terms: list[list[str]] = []  # computed on first use: most requests have no demonstrations

        def select(text: str, demos: list[Demo]) -> str | None:
            if not terms:
                terms.append(query_terms(query))
            kept = select_demonstrations(text, demos, terms[0], ratio, self.min_keep)
            if len(kept) == len(demos):
                return None
            return drop_demonstrations(text, demos, kept)

        def edit(text: str) -> str | None:
            demos = find_demonstrations(text)
            return select(text, demos) if demos else None

        out = edit_current(messages, ctx, self.roles, min_chars, edit)
        if inline and query.strip():
            out = edit_question(
                out, q_index, lambda text: select(text, inline[text]) if text in inline else None
            )
        return out
