"""Keep the records a question needs from a JSON list of retrieved passages.

Search and retrieval tools answer with JSON: ``[{"title", "url", "content"}, ...]`` or
``{"results": [...]}``. That is the same RAG evidence as numbered documents in text, so it gets
the same treatment, at the granularity JSON allows: whole records are kept or dropped, ranked by
BM25 of their string values against the question, within a share of the records' characters.

What counts: the message is one JSON document whose records list (the top-level array, or the only
array-of-objects member of the top-level object) holds at least :data:`MIN_RECORDS` objects, most
of them with a passage of prose under a content-like key (``content``, ``text``, ``snippet``…) and
a field that says where it comes from (``title``, ``url``, ``source``…). E-mails (``snippet``,
``from``, ``threadId``) and chat messages (``text``, ``ts``) have no such field: they are an agent's
working data, every record of which it may act on, never evidence to select from.
The ``{"columns", "rows"}`` table the aggressive ``json_table`` stage makes of such a list counts
too (its rows are the records), since that stage runs first.
A list of issues, files or rows without such a field is not retrieval output and is left alone.

Kept records are copied byte for byte (numbers keep their spelling, escapes stay escaped), in their
original order, joined by the separator found between the first two (whitespace around a comma in
valid JSON), so the result is valid JSON whose kept values are equal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from opencompress.compression.text.bm25 import BM25, index_terms, rank

MIN_RECORDS = 3
_MIN_PASSAGE = 100
_CONTENT_KEYS = frozenset(
    {
        "abstract",
        "chunk",
        "content",
        "document",
        "excerpt",
        "page_content",
        "passage",
        "snippet",
        "summary",
        "text",
    }
)
"""Where retrieval APIs put the passage. Not ``body`` or ``description``: lists of issues, e-mails,
tickets or products carry those, and an agent acting on such a list needs all of it."""
_ORIGIN_KEYS = frozenset({"title", "url", "link", "source", "uri", "href", "doc_title", "document_title"})
"""Where a retrieved passage says it comes from (search APIs: ``title`` + ``url``/``link``; LangChain
documents: ``metadata.source``). Not ``subject``, ``from`` or ``permalink``: e-mails and chat
messages carry those, and they are not retrieved passages."""
_HANDLE_NAMES = frozenset({"number", "ref", "handle", "sha"})
"""Id-like keys beyond the ``…id``/``…ts``/``…key`` names: issue numbers, refs, commit shas."""
_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Records:
    """The records list inside a JSON text: element spans, and the values they decode to."""

    spans: tuple[tuple[int, int], ...]
    values: tuple[dict[str, Any], ...]


def find_records(text: str) -> Records | None:
    """The retrieval records in ``text`` (one JSON document), or ``None``."""
    start = _skip(text, 0)
    if text[start : start + 1] not in ("[", "{"):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    located = _locate(text, start, document, depth=1)
    if located is None:
        return None
    array_at, items, columns = located
    spans = _element_spans(text, array_at)
    if spans is None or len(spans) != len(items):
        return None
    if columns is not None:  # our own aggressive table form: rows of cells under one header
        if not all(isinstance(r, list) and len(r) == len(columns) for r in items):
            return None
        items = [dict(zip(columns, r, strict=True)) for r in items]
    if not all(isinstance(v, dict) for v in items):
        return None
    values = tuple(items)
    if 2 * sum(_is_passage(v) for v in values) <= len(values):
        return None
    return Records(tuple(spans), values)


def handles(records: Records) -> frozenset[str]:
    """The id-like keys of the records (``id``, ``threadId``, ``ts``…), normalised (lower case,
    letters and digits only): what an agent's next tool calls pass back to act on a record."""
    found: set[str] = set()
    for record in records.values:
        for key, value in record.items():
            name = _normal(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and _id_like(name):
                found.add(name)
    return frozenset(found)


def takes_handle(parameter: str, handle_names: frozenset[str]) -> bool:
    """A tool parameter named for one of the records' handles: ``thread_id`` takes an ``id`` or a
    ``threadId``, ``thread_ts`` a Slack ``ts``."""
    name = _normal(parameter)
    return any(name == h or (name.endswith(h) and _id_like(name)) for h in handle_names)


def _normal(key: str) -> str:
    return "".join(c for c in key.lower() if c.isalnum())


def _id_like(name: str) -> bool:
    return name.endswith(("id", "ids", "uuid", "ts", "key")) or name in _HANDLE_NAMES


def select_records(text: str, records: Records, query: list[str], keep_ratio: float) -> str | None:
    """``text`` with only the best records within ``keep_ratio`` of their characters (at least one),
    or ``None`` when the question matches no record or every record is kept."""
    if not query:
        return None
    scores = BM25([index_terms(" ".join(_strings(v))) for v in records.values], vocabulary=query).scores(
        query
    )
    if max(scores) <= 0.0:
        return None
    spans = records.spans
    budget = keep_ratio * sum(e - s for s, e in spans)
    kept: list[int] = []
    used = 0
    for i in rank(scores):
        cost = spans[i][1] - spans[i][0]
        if kept and used + cost > budget:
            continue
        kept.append(i)
        used += cost
    if len(kept) == len(spans):
        return None
    sep = text[spans[0][1] : spans[1][0]]
    body = sep.join(text[spans[i][0] : spans[i][1]] for i in sorted(kept))
    return text[: spans[0][0]] + body + text[spans[-1][1] :]


def _locate(text: str, start: int, value: Any, depth: int) -> tuple[int, list[Any], list[str] | None] | None:
    """Where the records array starts, its decoded items, and the column names when it is a
    table's ``rows``."""
    if _objects(value):
        return start, value, None
    if _table(value):
        at = _member_value_at(text, start, "rows")
        return (at, value["rows"], value["columns"]) if at >= 0 else None
    if not isinstance(value, dict) or depth <= 0:
        return None
    names = [k for k, v in value.items() if _objects(v) or _table(v)]
    if len(names) != 1:
        return None
    at = _member_value_at(text, start, names[0])
    return _locate(text, at, value[names[0]], depth - 1) if at >= 0 else None


def _table(value: Any) -> bool:
    """``{"columns": [...], "rows": [[...], ...]}``, the form the aggressive ``json_table`` writes."""
    if not isinstance(value, dict) or set(value) != {"columns", "rows"}:
        return False
    columns, rows = value["columns"], value["rows"]
    return (
        isinstance(columns, list)
        and all(isinstance(c, str) for c in columns)
        and isinstance(rows, list)
        and len(rows) >= MIN_RECORDS
    )


def _objects(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= MIN_RECORDS and all(isinstance(v, dict) for v in value)


def _is_passage(record: dict[str, Any]) -> bool:
    """A retrieved passage: prose under a content key, and where it comes from (a title or a url,
    at the top or in its ``metadata``). An e-mail's ``snippet`` or a chat message's ``text`` has no
    such field: a list of those is an agent's working data, every record of which may be acted on."""
    return _has_passage(record) and _has_origin(record)


def _has_passage(record: dict[str, Any]) -> bool:
    return any(
        k.lower() in _CONTENT_KEYS and isinstance(v, str) and len(v) >= _MIN_PASSAGE and " " in v
        for k, v in record.items()
    )


def _has_origin(record: dict[str, Any]) -> bool:
    if any(k.lower() in _ORIGIN_KEYS and isinstance(v, str) and v.strip() for k, v in record.items()):
        return True
    meta = next((v for k, v in record.items() if k.lower() in ("metadata", "meta")), None)
    return isinstance(meta, dict) and any(
        k.lower() in _ORIGIN_KEYS and isinstance(v, str) and v.strip() for k, v in meta.items()
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _skip(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def _member_value_at(text: str, start: int, name: str) -> int:
    """Where the value of the top-level object's member ``name`` starts (the object is valid JSON).
    The last member of that name, as ``json.loads`` keeps it, so spans and values agree."""
    found = -1
    i = _skip(text, start + 1)
    while text[i : i + 1] == '"':
        key, i = _DECODER.raw_decode(text, i)
        i = _skip(text, _skip(text, i) + 1)  # past ':'
        if key == name:
            found = i
        _, i = _DECODER.raw_decode(text, i)
        i = _skip(text, i)
        if text[i : i + 1] != ",":
            break
        i = _skip(text, i + 1)
    return found


def _element_spans(text: str, at: int) -> list[tuple[int, int]] | None:
    """Spans of the array's elements; the array at ``at`` is valid JSON."""
    spans: list[tuple[int, int]] = []
    i = _skip(text, at + 1)
    while text[i : i + 1] not in ("]", ""):
        _, end = _DECODER.raw_decode(text, i)
        spans.append((i, end))
        i = _skip(text, end)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
    return spans if len(spans) >= MIN_RECORDS else None
