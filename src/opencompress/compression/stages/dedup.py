"""Exact-duplicate folding with back-references that only point backwards (lossless level).

Two granularities, both decided from earlier text only, so a message's compressed form depends on
the messages before it and never on what comes after (prefix stability):

* **whole texts** — a tool result or long user/system text identical to an earlier one becomes
  ``[… identical to the earlier result of tool call <id> …]`` (or to an earlier message, quoted by
  its first line). Agents re-run the same command and re-open the same file all the time. A
  reference must name one text: when another earlier text has the same description (every ReAct
  observation starts "Observation:", some frameworks reuse ``call_0``), it also quotes a line
  found in no other of them, or the text stays as it is.
* **line blocks** — a run of at least ``min_block_lines`` lines that already appeared, in the same
  order, earlier in the conversation (or earlier in the same text) keeps its first and last line and
  the middle becomes ``[… N lines repeated from above …]``. File views re-shown after an edit, the
  "original code before your edit" block of a failed edit, repeated instructions.

Only where it pays in o200k tokens, not characters: 80 dashes are 60+ characters but 1 token,
so a repeated separator line must not become a 9-token marker. Only a found duplicate is
tokenized: each block fold (its elided lines with a little context, against the marker) and the
folded text as a whole, or a whole text against its marker; a fold is kept only if strictly
fewer tokens. A kept fold elides its lines for good and one that does not pay is a few tokens
long, so this adds about two tokenizer passes over texts that do change (quicktok counts ~27 M
tok/s); the benchmark's lossless p50 did not move.

Nothing is lost: the elided text is still verbatim in the earlier occurrence, so every answer and
every number remains in the prompt. Assistant turns are indexed as sources but never rewritten,
JSON documents only get the whole-text fold (a block fold would break their validity), and blocks
never span a code fence line (that would unbalance the fences).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from opencompress.compression.base import Message, StageContext
from opencompress.tokens import count_text

_FENCE = re.compile(r"^[ \t]*(?:```|~~~)")
_BOUNDARY = "\x00"  # separates texts in the line index; never equal to a real line
_MAX_CANDIDATES = 6
_SNIPPET = 60
_CONTEXT = 64
_MIN_QUOTED = 6


@dataclass
class DedupState:
    """Everything seen so far. Cheap to copy: positions are stored as immutable tuples."""

    texts: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    where: dict[str, tuple[int, ...]] = field(default_factory=dict)
    described: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Description → the distinct earlier texts it fits, to tell when it names more than one."""

    def copy(self) -> DedupState:
        return DedupState(
            texts=dict(self.texts),
            lines=list(self.lines),
            where=dict(self.where),
            described=dict(self.described),
        )


def whole_marker(label: str) -> str:
    return f"[… identical to {label} …]"


def block_marker(count: int) -> str:
    return f"[… {count} {'line' if count == 1 else 'lines'} repeated from above …]"


def describe(role: str, text: str, tool_call_id: str | None) -> str:
    """How a later duplicate refers to this text: by tool call id, else by its first line."""
    if tool_call_id:
        return f"the earlier result of tool call {tool_call_id}"
    first = _snippet(text.strip().split("\n", 1)[0])
    who = role if role in ("user", "system", "tool", "assistant", "developer") else "earlier"
    return f'the earlier {who} message starting "{first}"'


def _snippet(line: str) -> str:
    line = line.strip()
    return line[:_SNIPPET].rstrip() + "…" if len(line) > _SNIPPET else line


def distinguish(label: str, text: str, others: tuple[str, ...]) -> str | None:
    """``label`` made to name ``text`` alone among ``others`` (earlier texts with the same
    description): it also quotes the first line of ``text`` that none of them contains. ``None``
    when there is no such line (a back-reference would then be a guess)."""
    for raw in text.split("\n"):
        quoted = _snippet(raw).rstrip("…")
        if len(quoted) >= _MIN_QUOTED and not any(quoted in other for other in others):
            return f'{label} containing "{_snippet(raw)}"'
    return None


def _pays(lines: list[str], start: int, end: int, marker: str) -> bool:
    """Whether replacing ``lines[start:end]`` (the middle of a block) by ``marker`` saves o200k
    tokens. The middle is tokenized with ``_CONTEXT`` characters of the text on each side, because
    a pre-token can run across a line break (``)\n/``, or a blank line merging into the next
    newline run); farther away the tokens are the same before and after. The context is bounded
    so a huge neighbouring line is never tokenized again and again. Local only: ``fold_blocks``
    checks the whole result once more."""
    head = "\n".join(lines[max(0, start - 3) : start])[-_CONTEXT:]
    tail = "\n".join(lines[end : end + 3])[:_CONTEXT]
    old = count_text("\n".join([head, *lines[start:end], tail]))
    return count_text(f"{head}\n{marker}\n{tail}") < old


def _next_fence(lines: list[str]) -> list[int]:
    """For each index ``i`` (and ``len(lines)``), the first fence line at or after ``i``, or
    ``len(lines)``."""
    n = len(lines)
    out = [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        out[i] = i if _FENCE.match(lines[i]) else out[i + 1]
    return out


class Dedup:
    """Whole-text duplicates (``dedup``) and repeated line blocks (``dedup_blocks``)."""

    name = "dedup"
    block_name = "dedup_blocks"

    def __init__(
        self,
        *,
        min_chars: int = 200,
        min_block_lines: int = 3,
        min_block_chars: int = 60,
        significant_chars: int = 6,
    ) -> None:
        self.min_chars = min_chars
        self.min_block_lines = min_block_lines
        self.min_block_chars = min_block_chars
        self.significant_chars = significant_chars

    @staticmethod
    def new_state() -> DedupState:
        return DedupState()

    def fold_whole(self, state: DedupState, text: str) -> str:
        if len(text) < self.min_chars:
            return text
        label = state.texts.get(text)
        if label is None:
            return text
        others = tuple(t for t in state.described.get(label, ()) if t != text)
        if others:
            label = distinguish(label, text, others)
            if label is None:
                return text
        marker = whole_marker(label)
        return marker if count_text(marker) < count_text(text) else text

    def fold_blocks(self, state: DedupState, text: str) -> str:
        """``text`` with repeated line blocks elided (``state`` is only read)."""
        lines = text.split("\n")
        cur = [line.rstrip() for line in lines]  # match through trailing-whitespace differences
        n = len(cur)
        if n < self.min_block_lines:
            return text
        glines = state.lines
        where = state.where
        base = len(glines)
        local: dict[str, list[int]] = {}
        # A block never runs into a fence line: the first fence line at or after each line.
        fence_after = _next_fence(cur) if "```" in text or "~~~" in text else None
        # Characters up to each line (line break included), to bound a block's middle in O(1);
        # built on the first line that has a candidate (most texts have none).
        upto: list[int] = []
        out: list[str] = []
        changed = False
        i = 0
        while i < n:
            line = cur[i]
            best_len = 0
            if len(line.strip()) >= self.significant_chars:
                cands = list(where.get(line, ()))
                cands.extend(base + k for k in local.get(line, ())[-_MAX_CANDIDATES:])
                limit = n - i if fence_after is None else fence_after[i + 1] - i
                if cands and not upto:
                    upto = list(itertools.accumulate((len(x) + 1 for x in cur), initial=0))
                for p in cands:
                    # The longest block this candidate could give: the rest of the text, and for a
                    # match earlier in this text, no further than where the block itself starts.
                    # One that cannot beat the best so far, or whose middle would be too short to
                    # fold, is not walked: repeated short lines offer many such candidates.
                    most = min(limit, base + i - p)
                    if most <= best_len or upto[i + most - 1] - upto[i + 1] < self.min_block_chars:
                        continue
                    k = 1
                    while k < most:
                        q = p + k
                        src = glines[q] if q < base else cur[q - base]
                        if src != cur[i + k]:
                            break
                        k += 1
                    best_len = max(best_len, k)
            if best_len >= self.min_block_lines:
                middle = lines[i + 1 : i + best_len - 1]
                marker = block_marker(len(middle))
                chars = sum(len(x) + 1 for x in cur[i + 1 : i + best_len - 1])
                if chars >= self.min_block_chars and _pays(lines, i + 1, i + best_len - 1, marker):
                    out.append(lines[i])
                    out.append(marker)
                    out.append(lines[i + best_len - 1])
                    for k in range(i, i + best_len):
                        local.setdefault(cur[k], []).append(k)
                    i += best_len
                    changed = True
                    continue
            out.append(lines[i])
            local.setdefault(line, []).append(i)
            i += 1
        if not changed:
            return text
        # Each fold was checked with its neighbourhood; this catches the rare pre-token that runs
        # farther (a long whitespace run), at one tokenizer pass over a text that did change.
        folded = "\n".join(out)
        return folded if count_text(folded) < count_text(text) else text

    def index(self, state: DedupState, text: str, label: str) -> None:
        """Record ``text`` (as the model will see its earlier occurrence) for later back-references."""
        if len(text) >= self.min_chars and text not in state.texts:
            state.texts[text] = label
            state.described[label] = (*state.described.get(label, ()), text)
        glines = state.lines
        where = state.where
        for raw in text.split("\n"):
            line = raw.rstrip()
            if len(line.strip()) >= self.significant_chars:
                where[line] = (where.get(line, ()) + (len(glines),))[-_MAX_CANDIDATES:]
            glines.append(line)
        glines.append(_BOUNDARY)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        """Standalone use: fold every non-assistant string content against what precedes it."""
        state = self.new_state()
        out: list[Message] = []
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if not isinstance(content, str):
                out.append(m)
                continue
            role = str(m.get("role", ""))
            new = content
            if role != "assistant":
                new = self.fold_whole(state, content)
                if new == content:
                    new = self.fold_blocks(state, content)
            call_id = m.get("tool_call_id")
            self.index(state, content, describe(role, content, call_id if isinstance(call_id, str) else None))
            out.append(m if new == content else {**m, "content": new})
        return out
