"""Split document-like content (RAG context) into documents and the instruction text around them.

Recognised layouts, strongest signal first:

1. numbered or tagged blocks: ``Document [3](Title: …)``, ``Passage 2:``, ``[4] …``,
   ``<document index="1">…</document>``. A bare ``[4]`` counts only when most such blocks are
   passages of prose (an accessibility tree's ``[1532] combobox 'Search'``, footnotes and link
   definitions ``[1]: https://…`` are not documents). A tagged document's one-line metadata
   elements (``<source>path</source>``, ``<title>``) and content wrapper
   (``<document_content>``) are its header and footer, kept with any of its text;
2. markdown sections (``## heading`` followed by prose): those under a heading that names the
   collection ("# Context"), except any that gives a rule; without such a heading, all of them
   after a context cue, and only when none gives a rule ("## Language\nAlways answer in French"):
   then they are a structured system prompt, kept whole;
3. blank-line separated prose paragraphs, only when the surrounding instruction names them as
   context ("documents", "passages", "context", "search results", …): a long system prompt made of
   instruction paragraphs must never be mistaken for a pile of retrievable documents.

Everything that is not a document is returned as "instruction" by omission and must be kept
verbatim by callers: the instruction before, and after the last document the question or a
closing instruction ("If the context does not contain the answer, reply UNKNOWN"), whether it
follows a blank line or sits directly under the document."""

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
    r"(?:\[\d{1,4}\]|#?\d{1,4})|(?P<bare>\[\d{1,4}\])(?!:[ \t]*\S+(?:[ \t]+[\"'(][^\n]*)?[ \t]*$))"
    r"(?:\s*\((?:Title|Source):(?:[^()\n]|\([^()\n]{0,100}\)){0,300}\))?"
    r"[ \t]*:?[ \t]*(?:Title:[^\n]{0,300}\n)?",
    re.M | re.I,
)
_TAG_OPEN = re.compile(r"<(document|doc|passage|source|context|search_result|result)\b[^>]{0,300}>", re.I)
"""An opening tag. Its closing tag is looked up with a plain search and the answer remembered:
``<(tag)…>(.*?)</\\1>`` scanned to the text's end again from each unclosed opening, which took
2.4 s on 224 KB of ``<source …>`` tags that are never closed."""
_TAG_TAIL = re.compile(r"[ \t]*\n?")
_META_ELEMENT = re.compile(
    r"\s*<((?:source|title|url|uri|link|href|path|file|filename|name|id|author|date|published|index|score"
    r"|language|lang|type)\b)[^<>\n]{0,200}>[^<\n]{0,300}</\1>[ \t]*\n?",
    re.I,
)
"""A one-line element at the top of a tagged document that says what it is (its path, title, url),
never its content (``<p>…</p>``)."""
_NON_SPACE = re.compile(r"\S")
_WRAPPER_OPEN = re.compile(r"\s*<([A-Za-z][\w:-]{0,40})\b[^<>\n]{0,200}>[ \t]*\n?")
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
    + r"\b|^[^\S\n]*"
    + _CONTEXT_NOUN
    + r"[^\S\n]*:"
    + r"|^#{1,6}[ \t]+(?:[a-z-]+[ \t]+){0,2}"
    + _CONTEXT_NOUN
    + r"[ \t]*:?[ \t]*$",
    re.I | re.M,
)
_ADDRESSED = re.compile(r"\b(?:you|your)\b", re.I)
# Line starts are matched with [^\S\n]*, never \s*: \s spans newlines, so each line start of a run of
# blank (or no-break-space) lines rescanned the rest of the run, quadratic in its length.
_CODE_HINT = re.compile(
    r"```|^[^\S\n]{4,}\S|^[^\n]{0,120}[{};][ \t]*$|^[^\S\n]*[$>#] "
    r"|^[^\S\n]*(?:def|class|import|return)\b[^\n]*[:(]",
    re.M,
)
QUESTION_LABEL = r"(?:question|query|q)\s*:"
"""How a labelled question starts ("Question:", "Q:"): such a tail is never part of a document."""
_QUESTION_START = re.compile(r"\s*" + QUESTION_LABEL, re.I)
_LABELLED_LINE = re.compile(r"\n(?=" + QUESTION_LABEL + ")", re.I)
_COLLECTION_HEADING = re.compile(
    r"#{1,6}[ \t]+(?:[a-z-]+[ \t]+){0,2}" + _CONTEXT_NOUN + r"[ \t]*:?[ \t]*\n", re.I
)
"""A heading that names the collection ("# Context", "## Search results"): the sections under it
are the documents; any other section of the message is the instruction's own."""
_RULE_VERB = (
    r"(?:reply|respond|answer|say|stop|refuse|escalate|ask|tell|output|return|write|cite|do not|don't)"
)
_INSTRUCTS = re.compile(
    r"(?:^|[.!?][^\S\n]+|\n[^\S\n]*(?:[-*\u2022][^\S\n]+)?)(?:"
    # "Always answer in French", "Never reveal…": not a title such as "Always on My Mind"
    r"(?:always|never|please)[^\S\n]+(?!(?:on|in|at|of|by|for|to|the|a|an|be|and|my|me|you|your)\b)(?-i:[a-z])"
    # "Answer strictly from…", "Do not guess": not "Do Not Disturb is a film" nor "Answer: …"
    r"|(?:do not|don't|make sure|ensure that|answer|reply|respond|refuse|cite|avoid|follow)"
    r"[^\S\n]+(?-i:[a-z])"
    r"(?![^.!?\n]{0,60}\b(?:is|was|are|were)\b)"
    r"|you (?:must|should|shall|need to|have to)\b"
    # "If the customer mentions a lawyer, stop answering and reply only with …"
    r"|if [^.!?\n]{1,200}?,[^\S\n]*(?:(?:always|never|please|only|just|then|simply)[^\S\n]+)?"
    + _RULE_VERB
    + r"\b)",
    re.I,
)
"""A sentence or line that tells the reader what to do. Measured on the dev split: no sentence of
the 13,000 NQ-20 and SQuAD passages matches, while system prompts' rules do."""
_ABOUT_CONTEXT = re.compile(
    r"\b(?:the|these|those|this)[ \t]+(?:(?:provided|given|retrieved|following|above)[ \t]+)?"
    + _CONTEXT_NOUN
    + r"[ \t]+(?:above|below|provided|given)\b"
    + r"|\b(?:the|these|this)[ \t]+(?:provided|given|retrieved|above)[ \t]+"
    + _CONTEXT_NOUN
    + r"\b|\b(?:the|this)[ \t]+context\b(?![ \t]+of\b)",
    re.I,
)
"""Text that talks about the context ("the documents above", "If the context does not contain…"):
after the documents, that is the instruction's closing part, never a retrieved passage."""
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
    letters = sum(map(str.isalpha, chunk)) + chunk.count(" ")  # a per-character loop took 2.5x as long
    if letters < 0.75 * len(chunk):
        return False
    lines = [ln for ln in chunk.split("\n") if ln.strip()]
    return sum(len(ln) for ln in lines) >= min_line * len(lines)


def _is_passage(chunk: str) -> bool:
    """A retrieved passage: a few sentences of prose, not a one-line record of a report."""
    return len(chunk) >= _MIN_PASSAGE and _is_prose(chunk)


def instructs(chunk: str) -> bool:
    """The chunk gives the reader a rule ("Always answer in French", "If …, reply only …")."""
    return _INSTRUCTS.search(chunk) is not None


def _closes(chunk: str) -> bool:
    """Text after the documents that belongs to the instruction: a question, a rule, or words
    about the context itself ("Answer only from the passages above")."""
    return (
        _QUESTION_START.match(chunk) is not None
        or chunk.rstrip().endswith("?")
        or instructs(chunk)
        or _ABOUT_CONTEXT.search(chunk) is not None
    )


def _tail_start(body: str, one_line: bool) -> int:
    """Where the instruction after the last document starts inside its body, or -1.

    After a blank line: a tail clearly shorter than the document, or one that reads as a question
    or a closing instruction, whatever its length. Directly under the document: every line after
    the first when the other documents are one line each (``one_line``); otherwise from the last
    line labelled as a question ("Question: …", with what follows it), or a last line shorter than
    the rest that reads as a question or a closing instruction."""
    if _QUESTION_START.match(body):  # no document at all: a marker with the question under it
        return 0
    cut = body.rfind("\n\n")
    if cut > 0 and (len(body) - cut < cut or _closes(body[cut + 2 :])):
        return cut + 2
    lead = len(body) - len(body.lstrip())  # a heading's body starts with its line break
    nl = body.find("\n", lead)
    if nl < 0:
        return -1
    if one_line:
        return nl + 1 if body[nl + 1 :].strip() else -1
    labelled = [m.start() + 1 for m in _LABELLED_LINE.finditer(body, nl)]
    if labelled:
        return labelled[-1]
    last = body.rfind("\n") + 1
    # Shorter than what stays: in "[k] Title\nPassage…" the passage is the last line, never a tail.
    return last if len(body) - last < last - lead and _closes(body[last:]) else -1


def _trailing_instruction(text: str, segs: list[Segment], *, one_line: bool = False) -> list[Segment]:
    """The last document may be followed by the question or a closing instruction: give that tail
    back to the instruction (see :func:`_tail_start`), the whole document when it holds nothing
    else. ``[]`` when fewer than :data:`MIN_DOCUMENTS` documents remain."""
    seg = segs[-1]
    cut = _tail_start(text[seg.body_start : seg.body_end], one_line)
    if cut >= 0:
        new_end = _rstrip_end(text, seg.body_start, seg.body_start + cut)
        last = (
            [Segment(seg.start, seg.body_start, new_end, seg.body_start + cut)]
            if new_end > seg.body_start
            else []
        )
        segs = [*segs[:-1], *last]
    return segs if len(segs) >= MIN_DOCUMENTS else []


def _numbered(text: str) -> list[Segment]:
    marks = list(_NUMBERED.finditer(text))
    if len(marks) < MIN_DOCUMENTS:
        return []
    segs: list[Segment] = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        segs.append(Segment(m.start(), m.end(), _rstrip_end(text, m.end(), end), end))
    one_line = all("\n" not in text[s.body_start : s.body_end] for s in segs[:-1])
    segs = _trailing_instruction(text, segs, one_line=one_line)
    # A bare "[k]" names a document only in front of a passage. The same marker numbers the
    # elements of an accessibility tree ("[1532] combobox 'Search'"), footnotes and citation
    # lists: one short line each, whose ids and prices an agent needs every one of.
    bare = {m.start() for m in marks if m.group("bare")}
    at_bare = [s for s in segs if s.start in bare]
    return segs if not at_bare or _mostly_passages(text, at_bare, head=_MIN_PASSAGE) else []


def _mostly_passages(text: str, segs: list[Segment], head: int | None = None) -> bool:
    """More than half of the documents' bodies are passages; stops as soon as that is decided.
    ``head``: judge the prose of each body by its first ``head`` characters only (its length
    still counts whole): enough to tell a passage from a one-line element, at a quarter of the
    cost on NQ's 600-character passages (0.25 -> 0.08 ms for 20 bare-numbered sources)."""
    passages = others = 0
    for s in segs:
        end = s.body_end if head is None else min(s.body_end, s.body_start + head)
        if s.body_end - s.body_start >= _MIN_PASSAGE and _is_prose(text[s.body_start : end]):
            passages += 1
            if 2 * passages > len(segs):
                return True
        else:
            others += 1
            if 2 * others >= len(segs):
                return False
    return False


def _tagged(text: str) -> list[Segment]:
    segs: list[Segment] = []
    closes: dict[str, tuple[int, int]] = {}  # tag -> (searched from, first closing tag there or -1)
    pos = 0
    while (m := _TAG_OPEN.search(text, pos)) is not None:
        tag = m.group(1).lower()
        close = _closing_tag(text, tag, m.end(), closes)
        if close < 0:
            pos = m.start() + 1
            continue
        tail = _TAG_TAIL.match(text, close + len(tag) + 3)
        end = tail.end() if tail else close + len(tag) + 3
        body_start, body_end = _tagged_body(text, m.end(), close)
        segs.append(Segment(m.start(), body_start, body_end, end))
        pos = end
    return segs if len(segs) >= MIN_DOCUMENTS else []


def _tagged_body(text: str, start: int, close: int) -> tuple[int, int]:
    """The content of a tagged document between ``start`` (after its opening tag) and ``close``
    (its closing tag): past one-line metadata elements (``<source>app/billing.py</source>``,
    ``<title>…</title>``) and inside a content wrapper (``<document_content>…</document_content>``),
    which then belong to the header and footer. Selection keeps a document's header and footer
    with any of its text, so a kept file never loses its path, and a wrapper is never half cut."""
    pos = start
    while (meta := _META_ELEMENT.match(text, pos, close)) is not None and _NON_SPACE.search(
        text, meta.end(), close
    ):
        pos = meta.end()
    end = _rstrip_end(text, pos, close)
    wrapper = _WRAPPER_OPEN.match(text, pos, end)
    if wrapper is not None:
        closing = "</" + wrapper.group(1) + ">"
        inner_end = end - len(closing)
        if inner_end >= wrapper.end() and text[inner_end:end].lower() == closing.lower():
            return wrapper.end(), _rstrip_end(text, wrapper.end(), inner_end)
    return pos, close


def _closing_tag(text: str, tag: str, start: int, memo: dict[str, tuple[int, int]]) -> int:
    """Position of the first ``</tag>`` (any case) at or after ``start``, or -1. The last search's
    answer stays valid for any later start up to what it found, so each tag's closings are
    scanned about once however many openings go unclosed."""
    searched, found = memo.get(tag, (-1, -1))
    if 0 <= searched <= start and (found < 0 or found >= start):
        return found
    m = re.compile("</" + tag + ">", re.I).search(text, start)
    found = m.start() if m else -1
    memo[tag] = (start, found)
    return found


def _headings(text: str) -> list[Segment]:
    raw = list(_HEADING.finditer(text))
    ends = [raw[i + 1].start() if i + 1 < len(raw) else len(text) for i in range(len(raw))]
    sections = list(zip(raw, ends, strict=True))
    collection = next(
        (i for i, (m, _) in enumerate(sections) if _COLLECTION_HEADING.match(text, m.start())), -1
    )
    if collection >= 0:
        # Only the sections under "# Context" are documents: the next ones of its sections' level
        # or deeper. A rule among them stays instruction, whole.
        under = sections[collection + 1 :]
        level = _level(under[0][0].group()) if under else 0
        stop = next((i for i, (m, _) in enumerate(under) if _level(m.group()) < level), len(under))
        candidates = [(m, e) for m, e in under[:stop] if not instructs(text[m.end() : e])]
    else:
        candidates = sections
    # A heading directly followed by another one ("# Context" above "## Title") titles the
    # collection or a group of documents: it stays instruction text between the documents.
    marks = [(m, end) for m, end in candidates if text[m.end() : end].strip()]
    # Sections after the documents that ask the question or close the instruction
    # ("## Question\nWhen …?", "## Notes\nAnswer only from the passages above.") are the prompt's own.
    while marks and _closes(text[marks[-1][0].end() : marks[-1][1]]):
        marks.pop()
    if len(marks) < MIN_DOCUMENTS:
        return []
    if collection < 0:
        # Without a heading naming the collection, sections under a context cue may still be a
        # structured system prompt: a rule among them means they are the prompt's own sections.
        if not _CONTEXT_CUE.search(text, 0, marks[0][0].start() + 300):
            return []
        if any(instructs(text[m.end() : e]) for m, e in marks):
            return []
    segs: list[Segment] = []
    for m, end in marks:
        body_end = _rstrip_end(text, m.end(), end)
        if not _is_prose(text[m.end() : body_end]):
            return []
        segs.append(Segment(m.start(), m.end(), body_end, end))
    return _trailing_instruction(text, segs)


def _level(heading: str) -> int:
    return len(heading) - len(heading.lstrip("#"))


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
    # Paragraphs that give rules or talk about the context after the passages ("If the context does
    # not contain the answer, reply UNKNOWN") close the instruction; rules right after the first
    # paragraph continue it. A rule between passages: this is not a pile of retrieved passages.
    body = spans[1:]
    stop = len(body)
    while stop > 0 and _closes(text[body[stop - 1][0] : body[stop - 1][1]]):
        stop -= 1
    lead = 0
    while lead < stop and instructs(text[body[lead][0] : body[lead][1]]):
        lead += 1
    if any(instructs(text[s:e]) for s, e in body[lead:stop]):
        return []
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for s, e in body[lead:stop]:
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
    return _trailing_instruction(text, segs)


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
                return segs if _mostly_passages(text, segs) else []
        return []
    for finder in (_tagged, _numbered):
        segs = finder(text)
        if segs:
            return segs
    # Markdown sections are documents or not as a whole (see _headings): read as paragraphs, a
    # prompt's rule sections would just be set aside and its knowledge sections selected.
    if len(_HEADING.findall(text)) >= MIN_DOCUMENTS:
        return _headings(text)
    return _paragraphs(text)
