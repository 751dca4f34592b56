"""Question-aware selection of documents and sentences in large document-like content (RAG).

Within the current turn (see :mod:`opencompress.compression.text.turn`), a message of at least
``min_tokens`` (estimated as characters / 4; no tokenizer in the hot path) that holds

* a large key→value JSON lookup table (keys that are ids of one shape, as kv75's UUIDs) whose key
  or id value the question names exactly: only the named pair(s) are kept, copied byte for byte
  into valid JSON. Any other object (a configuration, a record) is kept whole;
* a JSON list of retrieved passages (``[{"title", "content"}, ...]``, ``{"results": [...]}``):
  whole records are kept by BM25 within ``keep_ratio``, copied byte for byte
  (:mod:`opencompress.compression.text.jsonrecords`);
* a collection of documents (numbered/tagged blocks, markdown sections, announced prose
  paragraphs): the best sentences by coarse-to-fine BM25 are kept within ``keep_ratio`` of the
  document characters, documents in their original order, headers with any kept sentence. A
  sentence that holds the kind of answer the question asks for (a date, a quantity) ranks higher.

Where the documents sit: a system/developer/user message of the current turn, a tool result that
is a retrieval tool's answer (JSON records or a numbered or tagged collection of prose), or the
question's own message (one user message holding instruction, documents and question, the
commonest RAG shape).
A tool result is only selected from when the user's message asks a question (a line that reads as
one, or a bare search query), not when it sets a task ("Go through my mail and draft a reply…"),
and never when it is about every item ("all", "every", "each"): in a tool loop the user's message
is the task the agent started from, and what the tools return is its working data. JSON records
whose id-like keys a tool of the request takes as a parameter (``id`` and ``get_email(id)``,
``threadId`` and ``create_draft(thread_id)``) are kept whole wherever they are.

In the question's own message, the question is the text outside the documents that reads as a
question, after the documents when anything is asked there, else before them: it is what the
documents are ranked against, and it is never touched.

The instruction text around the documents is never touched, kept text is copied verbatim (numbers
unchanged), and a question that matches nothing leaves the message alone, as does one that asks
for the whole context ("summarize", "translate", "compare", "each"...). ``Policy.rate``, when set,
overrides ``keep_ratio``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from opencompress.compression.base import Message, StageContext
from opencompress.compression.text.bm25 import query_terms
from opencompress.compression.text.jsonrecords import find_records, handles, select_records, takes_handle
from opencompress.compression.text.kvjson import select_pairs
from opencompress.compression.text.segments import QUESTION_LABEL, Segment, split_documents
from opencompress.compression.text.selection import WHOLE_CONTEXT_TASK, select_sentences
from opencompress.compression.text.turn import (
    edit_current,
    edit_question,
    last_user_index,
    question_blocks,
    texts_of,
)

CHARS_PER_TOKEN = 4

_ASKS = re.compile(
    r"^\s*"
    + QUESTION_LABEL
    + r"|\b(?:question|query)\s*:\s*\S"  # "Answer the question: …": labelled, whatever its wording
    + r"|\?\s*$",
    re.I,
)
_QUESTION_WORD = re.compile(r"(?:^|:)\s*(?:who|whom|whose|what|when|where|which|why|how)\b", re.I)


# The task is about every item the tool returned ("draft a reply to every person who asked…",
# "each ticket", "all my unread mail"): none of them may be selected away.
_EVERY_ITEM = re.compile(r"\b(?:all|every|each|everyone|everybody|everything)\b", re.I)
_SENTENCE_END = re.compile(r"[.!](?:\s|$)")


def _asks_a_question(query: str) -> bool:
    """The user's message asks a question (some line reads as one), or is a bare search query with
    no sentence in it ("big little lies season 2 how many episodes"). A message of sentences that
    asks nothing ("Go through my unread mail and draft a reply…") is a task: what its tools return
    is the agent's working data, not evidence retrieved for a question."""
    if any(_reads_as_question(ln.strip()) for ln in query.split("\n") if ln.strip()):
        return True
    return _SENTENCE_END.search(query) is None


def _reads_as_question(line: str) -> bool:
    """A labelled question, a line ending in "?", or one opening with a question word that does not
    end like a statement or an announcement: "who got the first nobel prize" is a question,
    "Instructions: what follows are search results." and "What follows:" are not."""
    if _ASKS.search(line):
        return True
    return _QUESTION_WORD.search(line) is not None and not line.rstrip().endswith((".", ":", ";", "!"))


class DocumentSelection:
    name = "documents"
    edits_question = True
    """The question's own message may be edited, inside its documents only (see module doc)."""

    def __init__(
        self,
        *,
        keep_ratio: float = 0.45,
        min_tokens: int = 600,
        doc_weight: float = 1.0,
        type_weight: float = 1.0,
        roles: Sequence[str] = ("system", "user", "developer"),
    ) -> None:
        """``roles``: where any document layout is looked for. Tool results are only searched for
        what retrieval tools return (JSON records with a passage field, numbered or tagged prose
        documents): an agent's next step depends on the whole of any other observation, not on
        its relevance to the original task text.

        ``type_weight``: added to a sentence's score when it holds an answer of the type the
        question asks for (a date for "when", a quantity for "how many"; see
        :mod:`opencompress.compression.text.answer_type`). 1.0 is the weight of each normalised
        BM25 part. On the NQ-20 dev split, balanced went from 0.977 to 0.983 answer retention and
        aggressive from 0.935 to 0.943. Weights of 0.2-0.5 changed nothing, and 1.5-2.0 did worse."""
        self.keep_ratio = keep_ratio
        self.min_tokens = min_tokens
        self.doc_weight = doc_weight
        self.type_weight = type_weight
        self.roles = tuple(roles)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        ratio = ctx.policy.rate if ctx.policy.rate is not None else self.keep_ratio
        if ratio >= 1.0:
            return messages
        ratio = max(ratio, 0.01)
        min_chars = self.min_tokens * CHARS_PER_TOKEN
        q_index = last_user_index(messages)
        inline: dict[str, list[Segment]] = {}
        query = ctx.query.strip()
        if q_index > ctx.frozen_until:
            inline, query = _inline_documents(messages[q_index], min_chars, query)
        if not query:
            return messages
        pick = _Selector(query, ratio, self.doc_weight, self.type_weight, ctx.tools)
        out = edit_current(messages, ctx, self.roles, min_chars, pick.any_layout)
        if "tool" not in self.roles:
            out = edit_current(out, ctx, ("tool",), min_chars, pick.retrieved)
        if inline:
            out = edit_question(
                out, q_index, lambda text: pick.sentences(text, inline[text]) if text in inline else None
            )
        return out


class _Selector:
    """One request's selection: the question, its terms, the budget and the ranking weights.

    The terms and the whole-context check are computed on first use, when a text large enough
    to select from turns up: most requests have none, and the check's regex alone costs ~8 µs on
    a 200-character question, more than the rest of the stage on a small prompt."""

    def __init__(
        self,
        query: str,
        ratio: float,
        doc_weight: float,
        type_weight: float,
        tools: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.query = query
        self.ratio = ratio
        self.doc_weight = doc_weight
        self.type_weight = type_weight
        self.tools = tools
        self._terms: list[str] | None = None
        self._asked: str | None = None
        self._whole: bool | None = None
        self._parameters: frozenset[str] | None = None
        self._retrieval: bool | None = None

    @property
    def whole_context(self) -> bool:
        """The question asks about the whole context: nothing may be selected away."""
        if self._whole is None:
            self._whole = WHOLE_CONTEXT_TASK.search(self.query) is not None
        return self._whole

    @property
    def asked(self) -> str:
        """What the documents are ranked against: the lines of the user's message that read as a
        question, or the whole message when none does. A template around the question ("Using only
        the search results, provide a factual answer…") otherwise lent its words to the ranking
        (``prov``, ``fact``, ``resu`` match unrelated passages). The whole-context and tool-loop
        checks still read the whole message: "Summarize…" is an instruction line."""
        if self._asked is None:
            lines = [ln.strip() for ln in self.query.split("\n") if _reads_as_question(ln.strip())]
            self._asked = "\n".join(lines) if lines else self.query
        return self._asked

    @property
    def terms(self) -> list[str]:
        if self._terms is None:
            self._terms = query_terms(self.asked)
        return self._terms

    def sentences(self, text: str, segs: list[Segment]) -> str | None:
        if self.whole_context:
            return None
        return select_sentences(
            text,
            segs,
            self.terms,
            self.ratio,
            doc_weight=self.doc_weight,
            question=self.asked,
            type_weight=self.type_weight,
        )

    @property
    def retrieval_question(self) -> bool:
        """The question a tool's passages may be selected for: a question (not a task), and not
        one about every item. In a tool loop the last user message is the task the agent started
        from, not what the last call searched for; only a question is what retrieval answers."""
        if self._retrieval is None:
            self._retrieval = (
                not self.whole_context
                and _asks_a_question(self.query)
                and _EVERY_ITEM.search(self.query) is None
            )
        return self._retrieval

    @property
    def parameters(self) -> frozenset[str]:
        """The parameter names of the tools offered in the request."""
        if self._parameters is None:
            self._parameters = frozenset(name for tool in self.tools for name in _parameter_names(tool))
        return self._parameters

    def json_records(self, text: str) -> str | None:
        records = None if self.whole_context else find_records(text)
        if records is None:
            return None
        # Records whose ids a tool takes ("get_email(id)", "create_draft(thread_id)") are what the
        # agent works on next: each one may be needed, whatever the question's words.
        names = handles(records)
        if names and any(takes_handle(p, names) for p in self.parameters):
            return None
        return select_records(text, records, self.terms, self.ratio)

    def any_layout(self, text: str) -> str | None:
        """A system/developer/user text: key-value JSON, JSON records or documents in any layout."""
        kept = None if self.whole_context else select_pairs(text, self.query)
        if kept is None:
            kept = self.json_records(text)
        if kept is None and (segs := split_documents(text)):
            kept = self.sentences(text, segs)
        return kept

    def retrieved(self, text: str) -> str | None:
        """A tool result: only what a retrieval tool returns (JSON records, marked passages), and
        only for a question about part of it (see :attr:`retrieval_question`)."""
        if not self.retrieval_question:
            return None
        kept = self.json_records(text)
        if kept is None and (segs := split_documents(text, marked_only=True)):
            kept = self.sentences(text, segs)
        return kept


def _parameter_names(tool: Mapping[str, Any]) -> list[str]:
    """Every property name in a tool's parameter schema (OpenAI ``{"type": "function",
    "function": {"parameters": …}}`` or a bare function), nested objects included."""
    function = tool.get("function", tool)
    schema = function.get("parameters") if isinstance(function, Mapping) else None
    names: list[str] = []
    stack: list[Any] = [schema]
    while stack and len(names) < 1000:
        node = stack.pop()
        if isinstance(node, Mapping):
            props = node.get("properties")
            if isinstance(props, Mapping):
                names.extend(k for k in props if isinstance(k, str))
                stack.extend(props.values())
            items = node.get("items")
            if isinstance(items, Mapping):
                stack.append(items)
    return names


def _inline_documents(message: Message, min_chars: int, query: str) -> tuple[dict[str, list[Segment]], str]:
    """The question message's texts that hold documents (with them), and the question: the
    lines of the message's text outside its documents that read as one. ``({}, query)`` when
    it holds no documents."""
    found, _ = question_blocks(message, min_chars, split_documents)
    if not found:
        return {}, query
    # Only a line that reads as the question counts: the instruction's own words ("search results",
    # "irrelevant") would rank documents too, and without such a line the question may sit inside
    # what looks like the last document, where selection could cut it. Then the message is left whole.
    # The question is what is asked after the documents; only when nothing is asked there does a
    # question before them count ("Question: …" first, then the sources). An instruction line
    # before the documents that happens to ask something is never the query when one follows them.
    before, after = _outside_lines(texts_of(message), found)
    asked = [ln for ln in after if _reads_as_question(ln)] or [ln for ln in before if _reads_as_question(ln)]
    if not asked:
        return {}, ""
    return found, "\n".join(asked)


def _outside_lines(texts: list[str], found: dict[str, list[Segment]]) -> tuple[list[str], list[str]]:
    """The non-empty lines outside the documents of the message's ``texts``: those before or between
    documents, and those after the last document."""
    pieces: list[tuple[str, bool]] = []  # (text, is a document), in message order
    for t in texts:
        segs = found.get(t)
        if not segs:
            pieces.append((t, False))
            continue
        cursor = 0
        for seg in segs:
            pieces += [(t[cursor : seg.start], False), ("", True)]
            cursor = seg.end
        pieces.append((t[cursor:], False))
    last_doc = max(i for i, (_, is_doc) in enumerate(pieces) if is_doc)

    def lines(part: list[tuple[str, bool]]) -> list[str]:
        return [ln.strip() for p, is_doc in part if not is_doc for ln in p.split("\n") if ln.strip()]

    return lines(pieces[:last_doc]), lines(pieces[last_doc + 1 :])
