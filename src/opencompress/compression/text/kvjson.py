"""Find a large key→value JSON lookup table inside a message and keep only the pairs a question names.

Key-value retrieval prompts ("here is a JSON object of 75 ids, what is the value of key X") are the
worst case for generic compressors (random ids do not compress) and the best case for selection:
the question names the key exactly. We only act on an exact, identifier-like match (never on a
plain word such as "name"), and leave everything alone when the question names nothing in the
object.

Kept pairs are copied from the original text byte for byte, never re-serialised: ``json.dumps``
would rewrite numbers (``1.50`` → ``1.5``, ``1e400`` → ``Infinity``) and turn an escaped lone
surrogate (``"\\ud800"``) into a raw one that the gateway then cannot encode as UTF-8, failing a
request whose body was valid. Only the separators between the kept pairs are ours."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_PAIRS = 8
_DECODER = json.JSONDecoder()
_JSON_WS = re.compile(r"[ \t\n\r]*")
_OBJECT_START = re.compile(r"(?<!\s)(\s*)\{")
"""A ``{`` with the whole whitespace run before it. Starting only where a run starts keeps the
search linear (``^\\s*\\{`` in multi-line mode rescanned a run of blank lines from each one)."""

_WINDOW = 512
"""First slice decoded at a candidate ``{``; grown 8× while a failure may be the slice's cut."""
_CUT_SLACK = 16
"""A failure this close to the slice's end may be the cut (a number, literal or escape split in
two), so it is retried on a longer slice rather than taken as the text's own error."""
_BUDGET_PER_CHAR = 8
"""Decoding work spent on failed candidates, per character of text, before the scan gives up."""
_BUDGET_FLOOR = 1 << 17
_FAILURE_COST = 256
"""Charged per failed decode on top of the characters it examined, so that many tiny failures
(``'{"k": 1,\\n' * 20000``, each raising an exception) also exhaust the budget."""
_REJECT_COST = 16
"""Charged per candidate dropped without decoding (``"{\\n" * 20000``): cheap, but not free."""


@dataclass(frozen=True)
class JsonObjectSpan:
    start: int
    end: int
    value: dict[str, Any]
    indent: int | None  # None: the object was written on one line


def find_objects(text: str, min_pairs: int = MIN_PAIRS) -> list[JsonObjectSpan]:
    """Top-level JSON objects with at least ``min_pairs`` members embedded in ``text``.

    A candidate is a ``{`` that starts the text or a line (after optional whitespace), or follows
    ``:``/``=`` and whitespace. The scan is linear-ish for any input: a candidate not followed by
    a key or ``}`` is dropped without decoding, the rest are decoded on a short slice first (a
    failed ``raw_decode`` on the whole text costs time proportional to the failure's offset in the
    text, so ``"{\\n" * 20000`` was quadratic), and the work spent on failed candidates is capped
    at a multiple of the text's length (then the objects found so far are the answer)."""
    found: list[JsonObjectSpan] = []
    budget = max(_BUDGET_PER_CHAR * len(text), _BUDGET_FLOOR)
    pos = 0
    while budget > 0:
        m = _OBJECT_START.search(text, pos)
        if m is None:
            break
        start = m.end() - 1
        pos = start + 1
        run = m.group(1)
        if not (m.start() == 0 or "\n" in run or (run and text[m.start() - 1] in ":=")):
            continue
        first = _skip_ws(text, pos)
        if text[first : first + 1] not in ('"', "}"):  # not an object (or an empty one)
            budget -= _REJECT_COST
            continue
        value, end, cost = _decode_at(text, start)
        if end < 0:
            budget -= _FAILURE_COST + cost
            continue
        if isinstance(value, dict) and len(value) >= min_pairs:
            found.append(JsonObjectSpan(start, end, value, _indent_of(text, start, end)))
        pos = end
    return found


def _decode_at(text: str, start: int) -> tuple[Any, int, int]:
    """``(value, end, cost)`` of the JSON value at ``start``; ``end`` is -1 when there is none.

    Decodes growing slices of ``text`` so that a failure near ``start`` costs time near ``start``'s
    neighbourhood, not the whole text. A success on a slice is a success on the text (the decoder
    never looks past a closing brace); a failure is final unless it may be the slice's cut."""
    size = _WINDOW
    spent = 0  # characters examined by the failed attempts so far
    while True:
        window = text[start : start + size]
        cut = start + size < len(text)
        try:
            value, n = _DECODER.raw_decode(window)
        except json.JSONDecodeError as err:
            unterminated = err.msg.startswith("Unterminated string")  # err.pos is the string's start
            if cut and (unterminated or err.pos >= len(window) - _CUT_SLACK):
                spent += len(window)
                size *= 8
                continue
            return None, -1, spent + (len(window) if unterminated else err.pos + 1)
        except (ValueError, RecursionError):  # an integer over Python's digit limit; deep nesting
            return None, -1, spent + len(window)
        return value, start + n, 0


def _skip_ws(text: str, i: int) -> int:
    m = _JSON_WS.match(text, i)
    return m.end() if m else i


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


_WORD_RUN = re.compile(r"[^\W_]+")


def _shape(s: str) -> str | None:
    """The shape of an id: its separators with each run of letters and digits as one ``w``
    (a UUID is ``w-w-w-w-w``, ``user-0042`` is ``w-w``); ``None`` when it has no digit, as
    ``db_host`` or ``log_level`` have none."""
    if not any(c.isdigit() for c in s):
        return None
    return _WORD_RUN.sub("w", s)


def _one_shape(strings: list[Any]) -> bool:
    """All strings, all ids of one shape: the column of a lookup table."""
    shapes = {_shape(s) if isinstance(s, str) else None for s in strings}
    return len(shapes) == 1 and None not in shapes


def lookup_table(obj: dict[str, Any]) -> bool:
    """A table to look an id up in (kv75's UUID → UUID object): its keys are ids of one shape.

    Only such an object may be cut to the pairs a question names. A configuration object
    (``{"db_host": …, "db_pool_size": …, "notes": …}``) is one record whose other fields explain
    the named one: a question naming its ``db_host`` value needs the pool size and the notes too."""
    return _one_shape(list(obj))


def matching_keys(obj: dict[str, Any], query: str) -> list[str]:
    """Keys of a lookup table (:func:`lookup_table`) that the query names exactly, or whose value
    it names when the values are ids of one shape too (a reverse lookup). ``[]`` for any other
    object, and for a plain word ("name"): only identifier-like strings are matched."""
    if not lookup_table(obj):
        return []
    values = _one_shape(list(obj.values()))
    hits: list[str] = []
    for key, value in obj.items():
        if _identifier_like(key) and _mentioned(key, query):
            hits.append(key)
        elif values and _identifier_like(value) and _mentioned(value, query):
            hits.append(key)
    return hits


def members(text: str, span: JsonObjectSpan) -> dict[str, tuple[str, str]]:
    """key → (key's source text, value's source text) for each member of the object at ``span``,
    which is known to be valid JSON. A repeated key keeps its first position and its last value,
    as :func:`json.loads` does."""
    out: dict[str, tuple[str, str]] = {}
    i = _skip_ws(text, span.start + 1)
    if text[i] == "}":
        return out
    while True:
        key, key_end = _DECODER.raw_decode(text, i)
        colon = _skip_ws(text, key_end)
        value_start = _skip_ws(text, colon + 1)
        _, value_end = _DECODER.raw_decode(text, value_start)
        out[key] = (text[i:key_end], text[value_start:value_end])
        i = _skip_ws(text, value_end)
        if text[i] == "}":
            return out
        i = _skip_ws(text, i + 1)


def render(pairs: Sequence[tuple[str, str]], indent: int | None) -> str:
    """An object of ``(key text, value text)`` pairs, laid out like the original: one pair a line
    at its indent, or on one line with ``", "`` and ``": "`` as separators."""
    if indent is None:
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    pad = " " * indent
    return "{\n" + ",\n".join(f"{pad}{k}: {v}" for k, v in pairs) + "\n}"


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
        source = members(text, span)
        out.append(text[cursor : span.start])
        out.append(render([source[k] for k in keys], span.indent))
        cursor = span.end
        changed = True
    if not changed:
        return None
    out.append(text[cursor:])
    return "".join(out)
