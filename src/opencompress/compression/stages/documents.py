"""Question-aware selection of documents and sentences in large document-like content (RAG).

Within the current turn (see :mod:`opencompress.compression.text.turn`), a message of at least
``min_tokens`` (estimated as characters / 4; no tokenizer in the hot path) that holds

* a large key→value JSON object whose key or value the question names exactly: only the named
  pair(s) are kept, the object is re-serialised as valid JSON with equal values;
* a collection of documents (numbered/tagged blocks, markdown sections, announced prose
  paragraphs): the best sentences by coarse-to-fine BM25 are kept within ``keep_ratio`` of the
  document characters, documents in their original order, headers with any kept sentence. A
  sentence that holds the kind of answer the question asks for (a date, a quantity) ranks higher.

The instruction text around the documents is never touched, kept text is copied verbatim (numbers
unchanged), and a question that matches nothing leaves the message alone. ``Policy.rate``, when
set, overrides ``keep_ratio``."""

from __future__ import annotations

from collections.abc import Sequence

from opencompress.compression.base import Message, StageContext
from opencompress.compression.text.bm25 import query_terms
from opencompress.compression.text.kvjson import select_pairs
from opencompress.compression.text.segments import split_documents
from opencompress.compression.text.selection import select_sentences
from opencompress.compression.text.turn import edit_current

CHARS_PER_TOKEN = 4


class DocumentSelection:
    name = "documents"

    def __init__(
        self,
        *,
        keep_ratio: float = 0.45,
        min_tokens: int = 600,
        doc_weight: float = 1.0,
        type_weight: float = 1.0,
        roles: Sequence[str] = ("system", "user", "developer"),
    ) -> None:
        """``roles``: tool results are left to the structural stages; an agent's next step depends
        on the whole observation, not on its relevance to the original task text.

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
        query = ctx.query.strip()
        ratio = ctx.policy.rate if ctx.policy.rate is not None else self.keep_ratio
        if not query or ratio >= 1.0:
            return messages
        ratio = max(ratio, 0.01)
        terms: list[list[str]] = []  # computed on first use: most requests have no large message

        def edit(text: str) -> str | None:
            kept = select_pairs(text, query)
            if kept is not None:
                return kept
            segs = split_documents(text)
            if not segs:
                return None
            if not terms:
                terms.append(query_terms(query))
            return select_sentences(
                text,
                segs,
                terms[0],
                ratio,
                doc_weight=self.doc_weight,
                question=query,
                type_weight=self.type_weight,
            )

        return edit_current(messages, ctx, self.roles, self.min_tokens * CHARS_PER_TOKEN, edit)
