"""Split document-like content (RAG context) into documents and the instruction text around them.

Recognised layouts, strongest signal first:

1. numbered or tagged blocks: ``Document [3](Title: …)``, ``Passage 2:``, ``[4] …``,
   ``<document index="1">…</document>``;
2. markdown sections (``## heading`` followed by prose);
3. blank-line separated prose paragraphs, only when the surrounding instruction names them as
   context ("documents", "passages", "context", "search results", …): a long system prompt made of
   instruction paragraphs must never be mistaken for a pile of retrievable documents.

Everything that is not a document (the instruction before, a trailing question after) is returned
as "instruction" by omission and must be kept verbatim by callers."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    """A document at ``text[start:end]``: header ``[start:body_start]`` (marker, title),
    body ``[body_start:body_end]`` and footer ``[body_end:end]`` (closing tag, trailing space)."""

    start: int
    body_start: int
    body_end: int
    end: int


MIN_DOCUMENTS = 3

_NUMBERED = re.compile(
    r"^[ \t]*(?:(?:Document|Doc|Passage|Source|Context|Result|Snippet|Article|Chunk|Excerpt)\s*"
    r"(?:\[\d{1,4}\]|#?\d{1,4})|\[\d{1,4}\])"
    r"(?:\s*\((?:Title|Source):(?:[^()\n]|\([^()\n]{0,100}\)){0,300}\))?"
    r"[ \t]*:?[ \t]*(?:Title:[^\n]{0,300}\n)?",
    re.M | re.I,
)
_TAGGED = re.compile(
    r"<(document|doc|passage|source|context|search_result|result)\b[^>]{0,300}>(.*?)</\1>[ \t]*\n?",
    re.S | re.I,
)
_HEADING = re.compile(r"^#{1,6}[ \t]+\S[^\n]*\n", re.M)
_PARAGRAPH_BREAK = re.compile(r"\r?\n[ \t\r]*\n\s*")
_CONTEXT_NOUN = (
    r"(?:context|documents?|passages?|search results?|sources?|articles?|excerpts?|snippets?|paragraphs?)"
)
# The instruction must *announce* context ("the following passages", "Context:"); a bare word such as
# a path segment ".../Documents/..." is not enough.
_CONTEXT_CUE = re.compile(
    r"\b(?:following|below|provided|given|these|retrieved|relevant|attached)\s+(?:[a-z-]+\s+){0,2}"
    + _CONTEXT_NOUN
    + r"\b|^\s*"
    + _CONTEXT_NOUN
    + r"\s*:"
    + r"|^#{1,6}[ \t]+(?:[a-z-]+[ \t]+){0,2}"
    + _CONTEXT_NOUN
    + r"[ \t]*:?[ \t]*$",
    re.I | re.M,
)
_ADDRESSED = re.compile(r"\b(?:you|your)\b", re.I)
_CODE_HINT = re.compile(
    r"```|^\s{4,}\S|^[^\n]{0,120}[{};][ \t]*$|^\s*[$>#] |^\s*(?:def|class|import|return)\b[^\n]*[:(]", re.M
)
QUESTION_LABEL = r"(?:question|query|q)\s*:"
"""How a labelled question starts ("Question:", "Q:"): such a tail is never part of a document."""
_QUESTION_START = re.compile(r"\s*" + QUESTION_LABEL, re.I)
_MIN_PARAGRAPH = 120  # shorter paragraphs (titles, bylines) attach to the next one
_MIN_PASSAGE = 150


def _rstrip_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _is_prose(chunk: str, min_line: int = 50) -> bool:
    """Prose: mostly letters and spaces, long lines, no code/shell/log shapes."""
    if not chunk or _CODE_HINT.search(chunk):
        return False
    letters = sum(1 for c in chunk if c.isalpha() or c == " ")
    if letters < 0.75 * len(chunk):
        return False
    lines = [ln for ln in chunk.split("\n") if ln.strip()]
    return sum(len(ln) for ln in lines) >= min_line * len(lines)


def _is_passage(chunk: str) -> bool:
    """A retrieved passage: a few sentences of prose, not a one-line record of a report."""
    return len(chunk) >= _MIN_PASSAGE and _is_prose(chunk)


def _trailing_instruction(text: str, seg: Segment) -> Segment:
    """The last document may be followed by the question or a closing instruction after a blank
    line; give that tail back to the instruction when it is clearly shorter than the document, or
    whatever its length when it starts like a question ("Question:", "Q:")."""
    body = text[seg.body_start : seg.body_end]
    cut = body.rfind("\n\n")
    if cut <= 0 or (len(body) - cut >= cut and not _QUESTION_START.match(body, cut + 2)):
        return seg
    new_end = _rstrip_end(text, seg.body_start, seg.body_start + cut)
    return Segment(seg.start, seg.body_start, new_end, seg.body_start + cut + 2)


def _numbered(text: str) -> list[Segment]:
    marks = list(_NUMBERED.finditer(text))
    if len(marks) < MIN_DOCUMENTS:
        return []
    segs: list[Segment] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        segs.append(Segment(m.start(), m.end(), _rstrip_end(text, m.end(), end), end))
    segs[-1] = _trailing_instruction(text, segs[-1])
    return segs


def _tagged(text: str) -> list[Segment]:
    segs = [Segment(m.start(), m.start(2), m.end(2), m.end()) for m in _TAGGED.finditer(text)]
    return segs if len(segs) >= MIN_DOCUMENTS else []


def _headings(text: str) -> list[Segment]:
    raw = list(_HEADING.finditer(text))
    ends = [raw[i + 1].start() if i + 1 < len(raw) else len(text) for i in range(len(raw))]
    # A heading directly followed by another one ("# Context" above "## Title") titles the
    # collection or a group of documents: it stays instruction text between the documents.
    marks = [(m, end) for m, end in zip(raw, ends, strict=True) if text[m.end() : end].strip()]
    if len(marks) < MIN_DOCUMENTS:
        return []
    segs: list[Segment] = []
    for m, end in marks:
        body_end = _rstrip_end(text, m.end(), end)
        if not _is_prose(text[m.end() : body_end]):
            return []
        segs.append(Segment(m.start(), m.end(), body_end, end))
    if not _CONTEXT_CUE.search(text, 0, marks[0][0].start() + 300):
        return []
    segs[-1] = _trailing_instruction(text, segs[-1])
    return segs


def _paragraphs(text: str) -> list[Segment]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        spans.append((cursor, m.end()))
        cursor = m.end()
    spans.append((cursor, len(text)))
    if len(spans) < MIN_DOCUMENTS + 1:
        return []
    # The first paragraph is the instruction; it must say that context follows. When it ends in a
    # line announcing the context ("Context:") with a passage glued below it, the passage is a document.
    first_end = spans[0][1]
    cue = _CONTEXT_CUE.search(text, 0, first_end)
    line_end = text.find("\n", cue.end() if cue else first_end, first_end)
    if cue and line_end > 0 and text[:line_end].rstrip().endswith(":") and text[line_end:first_end].strip():
        spans[0:1] = [(0, line_end + 1), (line_end + 1, first_end)]
        first_end = line_end + 1
    if first_end > 1500 or not _CONTEXT_CUE.search(text, 0, first_end) or not _is_prose(text[:first_end], 0):
        return []
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for s, e in spans[1:]:
        start = s if pending is None else pending
        if _rstrip_end(text, s, e) - s < _MIN_PARAGRAPH:
            pending = start
            continue
        merged.append((start, e))
        pending = None
    if len(merged) < MIN_DOCUMENTS:
        return []
    segs: list[Segment] = []
    addressed = 0
    for s, e in merged:
        body_end = _rstrip_end(text, s, e)
        chunk = text[s:body_end]
        if not _is_prose(chunk):
            return []
        addressed += len(_ADDRESSED.findall(chunk)) > 1
        nl = text.find("\n", s, body_end)
        # A short first line without end punctuation ("Title: …", a byline) is the paragraph's header.
        head = nl + 1 if 0 < nl - s < 100 and text[nl - 1] not in ".!?" else s
        segs.append(Segment(s, head, body_end, e))
    # Instruction paragraphs talk to the reader; retrieved passages rarely do (a song called
    # "You've Got a Friend in Me" may, which is why one such paragraph in four is tolerated).
    if 4 * addressed > len(segs):
        return []
    return segs


def announces_context(text: str) -> bool:
    """True when the text says it carries context to answer from ("the following passages",
    "Context:"), i.e. it is the evidence of a RAG prompt."""
    return _CONTEXT_CUE.search(text) is not None


def split_documents(text: str, *, marked_only: bool = False) -> list[Segment]:
    """Documents found in ``text`` (in order, non-overlapping), or ``[]`` when it is not a document
    collection of at least :data:`MIN_DOCUMENTS`. Text between and around segments is instruction.

    ``marked_only``: only numbered or tagged documents whose bodies are prose, the shape a retrieval
    tool returns. Tool output is mostly logs, listings and test reports, whose "Result 1:" lines
    must not make them a collection to select from."""
    if marked_only:
        for finder in (_tagged, _numbered):
            segs = finder(text)
            if segs:
                prose = sum(_is_passage(text[s.body_start : s.body_end]) for s in segs)
                return segs if 2 * prose > len(segs) else []
        return []
    for finder in (_tagged, _numbered, _headings, _paragraphs):
        segs = finder(text)
        if segs:
            return segs
    return []
