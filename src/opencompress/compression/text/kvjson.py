"""Find a large key→value JSON object inside a message and keep only the pairs a question names.

Key-value retrieval prompts ("here is a JSON object of 75 ids, what is the value of key X") are the
worst case for generic compressors (random ids do not compress) and the best case for selection:
the question names the key exactly. We only act on an exact, identifier-like match (never on a
plain word such as "name"), rebuild the object with :func:`json.dumps` so it stays valid JSON with
equal values, and leave everything alone when the question names nothing in the object."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MIN_PAIRS = 8
_OBJECT_START = re.compile(r"(?:^|(?<=[:=]\s)|(?<=\n))\s*\{", re.M)
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class JsonObjectSpan:
    start: int
    end: int
    value: dict[str, Any]
    indent: int | None  # None: the object was written on one line


def find_objects(text: str, min_pairs: int = MIN_PAIRS) -> list[JsonObjectSpan]:
    """Top-level JSON objects with at least ``min_pairs`` members embedded in ``text``."""
    found: list[JsonObjectSpan] = []
    pos = 0
    while True:
        m = _OBJECT_START.search(text, pos)
        if m is None:
            return found
        start = text.index("{", m.start())
        try:
            value, end = _DECODER.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        if isinstance(value, dict) and len(value) >= min_pairs:
            found.append(JsonObjectSpan(start, end, value, _indent_of(text, start, end)))
        pos = end


def _indent_of(text: str, start: int, end: int) -> int | None:
    nl = text.find("\n", start, end)
    if nl < 0:
        return None
    i = nl + 1
    while i < end and text[i] == " ":
        i += 1
    return i - nl - 1


def _identifier_like(s: str) -> bool:
    """Worth matching exactly: has a digit, or a separator, or is long. "name" is not; a UUID is."""
    if len(s) < 4:
        return False
    return len(s) >= 12 or any(c.isdigit() or c in "-_.:/@" for c in s)


def _mentioned(s: str, query: str) -> bool:
    i = query.find(s)
    while i >= 0:
        before = query[i - 1] if i > 0 else " "
        after = query[i + len(s)] if i + len(s) < len(query) else " "
        if not (before.isalnum() or after.isalnum()):
            return True
        i = query.find(s, i + 1)
    return False


def matching_keys(obj: dict[str, Any], query: str) -> list[str]:
    """Keys whose key, or whose scalar value, the query names exactly (identifier-like only)."""
    hits: list[str] = []
    for key, value in obj.items():
        if _identifier_like(key) and _mentioned(key, query):
            hits.append(key)
        elif isinstance(value, str) and _identifier_like(value) and _mentioned(value, query):
            hits.append(key)
    return hits


def render(obj: dict[str, Any], indent: int | None) -> str:
    """Serialise like the original layout: pretty with its indent, or compact-with-spaces."""
    if indent is None:
        return json.dumps(obj, ensure_ascii=False)
    return json.dumps(obj, ensure_ascii=False, indent=indent)


def select_pairs(text: str, query: str) -> str | None:
    """``text`` with each large embedded object cut down to the pairs the query names, or ``None``
    when nothing was cut (no object, no exact match, or every pair matched)."""
    if not query:
        return None
    objects = find_objects(text)
    if not objects:
        return None
    out: list[str] = []
    cursor = 0
    changed = False
    for span in objects:
        keys = matching_keys(span.value, query)
        if not keys or len(keys) == len(span.value):
            continue
        kept = {k: span.value[k] for k in keys}
        out.append(text[cursor : span.start])
        out.append(render(kept, span.indent))
        cursor = span.end
        changed = True
    if not changed:
        return None
    out.append(text[cursor:])
    return "".join(out)
