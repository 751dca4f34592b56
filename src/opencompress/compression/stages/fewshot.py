"""Few-shot demonstration budget: keep the demonstrations most relevant to the question, whole.

LLMLingua's budget controller gets most of its few-shot savings by dropping whole demonstrations;
cutting *inside* a chain-of-thought demonstration is where quality is lost (numbers, number
words). So this stage only ever keeps or drops complete demonstrations (see
:mod:`opencompress.compression.text.demos`), ranks them by BM25 against the question, keeps them
greedily within ``keep_ratio`` of the demonstration characters (at least ``min_keep``), and writes
the kept ones in their original order with the instruction and the real question untouched.
``Policy.rate``, when set, overrides ``keep_ratio``.

Blocks of the demonstration shape are only treated as demonstrations when the prompt really is
few-shot; otherwise every block stays (see :func:`candidates`):

* the last block of the question's own message is the real question, answered or not ("A: Let's
  think step by step." pre-fills an answer), never a candidate;
* blocks in another message are candidates only when the question has their shape: it carries
  their label ("Review: …" under "Review:"/"Sentiment:" rows), or the blocks end with an
  unanswered one. "How many reviews are positive?" is a question *about* labelled data or a pasted
  transcript, and needs every row;
* text around the blocks that asks about them (a question, a whole-context task such as
  "summarize", or an aggregate such as "how many", "count", "all", "every", "total") keeps them
  all, except under a question that is a new instance of them (it carries their label): then
  only a task over the blocks ("count", "list", "summarize") does, and "For each question
  below…" is about how to use the examples;
* "User:"/"Human:" blocks on consecutive lines are one pasted conversation, not examples: its
  last "User:" line asks about the earlier turns ("How many orders have I asked about?"), so
  every turn stays. Chat examples are told apart by the blank line between them.

The question block itself is not checked for aggregates: a new instance of the task ("How many
apples are left?") asks about its own content, not about the demonstrations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from opencompress.compression.base import Message, StageContext
from opencompress.compression.text.bm25 import BM25, index_terms, query_terms, rank
from opencompress.compression.text.demos import Blocks, Demo, carries_label, find_blocks
from opencompress.compression.text.selection import WHOLE_CONTEXT_TASK
from opencompress.compression.text.turn import edit_current, edit_question, last_user_index, question_blocks

CHARS_PER_TOKEN = 4

# Words that make a text around the blocks a question about all of them (counting, listing,
# totals). Checked only outside the question block: inside it they belong to the new instance.
# The aggregate words that are a task over the blocks, rather than a way of speaking about them.
_COUNTING = r"how many|how much|count\w*|number of|list\w*|tally|percentage|proportion|average\w*"
_COUNTS_BLOCKS = re.compile(rf"\b(?:{_COUNTING})\b", re.I)
_AGGREGATE = re.compile(rf"\b(?:{_COUNTING}|all|every|each|total\w*|sum|majority|most|least)\b", re.I)
_QUESTION_MARK = re.compile(r"\?[\s\"'*)\]]*$", re.M)
# In the question's own message, the words around the blocks are the user's: a question word there
# ("Tell me which customer was angriest:") asks about the blocks. Not checked in system prompts,
# where "You are an assistant who…" is common and says nothing about the blocks.
_QUESTION_WORD = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b", re.I)
# Labels of a conversation's turns rather than of a task's instances.
_TURN_LABELS = frozenset({"user", "human"})


def one_conversation(text: str, blocks: Blocks) -> bool:
    """The blocks are the turns of one conversation: turn labels, and no blank line between two
    blocks (examples are set apart from each other; a transcript runs on line by line)."""
    if blocks.label not in _TURN_LABELS:
        return False
    for demo in blocks.demos[:-1]:
        block = text[demo.start : demo.end]
        if block[len(block.rstrip()) :].count("\n") < 2:
            return True
    return False


def asks_about_blocks(text: str) -> bool:
    """``text`` (an instruction or closing line around the blocks) asks about them as a whole."""
    return bool(_QUESTION_MARK.search(text) or _AGGREGATE.search(text) or WHOLE_CONTEXT_TASK.search(text))


def candidates(text: str, blocks: Blocks, *, holds_question: bool, query: str) -> list[Demo]:
    """The demonstrations that may be dropped from ``text``; ``[]`` keeps every block.

    ``holds_question``: ``text`` is the question's own message, whose last block is the real
    question. Otherwise ``query`` (the question's message) must have the blocks' shape."""
    around = text[: blocks.start] + "\n" + text[blocks.end :]
    if (
        not holds_question
        and carries_label(query, blocks.label)
        and not (_COUNTS_BLOCKS.search(around) or WHOLE_CONTEXT_TASK.search(around))
        and not one_conversation(text, blocks)
    ):
        # The question is a new instance of the blocks' task ("Question: …" under "Question:"
        # examples): they are its demonstrations, whatever the instruction says about using them
        # ("For each question below…", "All of the following examples…", a "?"). Only a task over
        # the blocks themselves ("Count how many of the problems below…") keeps them all.
        return list(blocks.demos)
    if asks_about_blocks(around) or (holds_question and _QUESTION_WORD.search(around)):
        return []
    if one_conversation(text, blocks):
        return []
    if holds_question:
        return list(blocks.demos[:-1] if blocks.last_answered else blocks.demos)
    if blocks.last_answered:
        return []  # answered rows, and a question not of their shape: a question about them
    return list(blocks.demos)


def find_candidates(text: str, *, holds_question: bool, query: str) -> list[Demo]:
    blocks = find_blocks(text)
    return candidates(text, blocks, holds_question=holds_question, query=query) if blocks else []


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
            inline, outside = question_blocks(
                messages[q_index],
                min_chars,
                lambda text: find_candidates(text, holds_question=True, query=ctx.query),
            )
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
            demos = find_candidates(text, holds_question=False, query=ctx.query)
            return select(text, demos) if demos else None

        out = edit_current(messages, ctx, self.roles, min_chars, edit)
        if inline and query.strip():
            out = edit_question(
                out, q_index, lambda text: select(text, inline[text]) if text in inline else None
            )
        return out
