"""Key-value JSON selection copies the kept pairs from the original text, byte for byte.

Re-serialising with ``json.dumps`` rewrote numbers (``1.50`` → ``1.5``, ``1e400`` → ``Infinity``)
and decoded an escaped lone surrogate into a raw one, which the gateway could then not encode as
UTF-8: a valid request failed. Also: scanning for objects must stay linear on hostile text."""

from __future__ import annotations

import json
import math
import re
from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression import Policy, compress
from opencompress.compression.text.kvjson import find_objects, matching_keys, select_pairs
from support.timing import LINEAR_BOUND_S, fastest_s

REPRO = (
    '{"k000x": [1.50, 1e5, 1e400, "\\ud800"], ' + ", ".join(f'"k{i:03d}x": {i}' for i in range(1, 300)) + "}"
)


def test_reproducer_keeps_the_value_as_written() -> None:
    assert select_pairs(REPRO, "What is k000x?") == '{"k000x": [1.50, 1e5, 1e400, "\\ud800"]}'


def test_reproducer_through_compress_stays_encodable() -> None:
    msgs = [{"role": "system", "content": REPRO}, {"role": "user", "content": "What is k000x?"}]
    out = compress(msgs, policy=Policy(level="balanced")).messages
    content = out[0]["content"]
    # Other stages may drop whitespace between tokens; every token must be as the client wrote it.
    assert re.sub(r"\s", "", content) == '{"k000x":[1.50,1e5,1e400,"\\ud800"]}'
    json.dumps(out, ensure_ascii=False).encode()  # what the gateway sends upstream: must not raise
    value = json.loads(content)["k000x"]
    assert value[:2] == [1.5, 1e5] and math.isinf(value[2]) and value[3] == "\ud800"


def test_pretty_layout_keeps_nested_values_as_written() -> None:
    lines = [f'  "id-{i:02d}": {i}.0' for i in range(12)]
    lines[5] = '  "id-05": {"deep": [1.0E+2, "caf\\u00e9"], "n": -0.0}'
    text = "Records:\n{\n" + ",\n".join(lines) + "\n}\nEnd."
    out = select_pairs(text, "Show id-05 and id-07.")
    assert out == (
        'Records:\n{\n  "id-05": {"deep": [1.0E+2, "caf\\u00e9"], "n": -0.0},\n  "id-07": 7.0\n}\nEnd.'
    )


# --- property: random objects, every kept value verbatim -------------------------------------

_NUMBERS = st.sampled_from(
    [
        "0",
        "-0",
        "1.50",
        "1e5",
        "1E+5",
        "2.500e-3",
        "-12.0",
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "7",
    ]
)
_STRING_PIECES = st.sampled_from(
    [
        "a",
        "Z",
        " ",
        "é",
        "\\ud83d\\ude00",
        "\\ud800",
        "\\udfff",
        "\\n",
        '\\"',
        "\\\\",
        "\\/",
        "\\u0041",
        "\\t",
        "x-1",
    ]
)
_STRINGS = st.lists(_STRING_PIECES, max_size=6).map(lambda parts: '"' + "".join(parts) + '"')
_SCALARS = st.one_of(_NUMBERS, _STRINGS, st.sampled_from(["true", "false", "null"]))
_SEPS = st.sampled_from([",", ", ", " ,\t"])


def _nested(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arrays = st.tuples(st.lists(children, max_size=4), _SEPS).map(lambda t: "[" + t[1].join(t[0]) + "]")
    objects = st.tuples(st.lists(st.tuples(_STRINGS, children), max_size=3), _SEPS).map(
        lambda t: "{" + t[1].join(f"{k}: {v}" for k, v in t[0]) + "}"
    )
    return arrays | objects


_VALUES = st.recursive(_SCALARS, _nested, max_leaves=8)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """(text, query, key → value text) for an object of 8-30 pairs embedded in prose."""
    n = draw(st.integers(8, 30))
    values = draw(st.lists(_VALUES, min_size=n, max_size=n))
    keys = [f"key{i:03d}" for i in range(n)]
    key_texts = [f'"{k}"' if draw(st.booleans()) else f'"\\u006b{k[1:]}"' for k in keys]  # "\u006b" is "k"
    named = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=n - 1, unique=True))
    indent = draw(st.sampled_from([None, 0, 2, 4]))
    pairs = [f"{kt}: {v}" for kt, v in zip(key_texts, values, strict=True)]
    if indent is None:
        obj = "{" + draw(_SEPS).join(pairs) + "}"
    else:
        obj = "{\n" + ",\n".join(" " * indent + p for p in pairs) + "\n}"
    prefix = draw(st.sampled_from(["", "Data:\n", "payload = ", "See below.\n\n"]))
    return (
        prefix + obj + "\nAnswer briefly.",
        "Give " + " and ".join(named) + ".",
        dict(zip(keys, values, strict=True)),
    )


@settings(max_examples=100, deadline=None)
@given(_documents())
def test_kept_values_are_copied_verbatim(doc: tuple[str, str, dict[str, str]]) -> None:
    text, query, value_texts = doc
    original: dict[str, Any] = find_objects(text)[0].value
    expected = matching_keys(original, query)
    out = select_pairs(text, query)
    if len(expected) == len(original):  # a value happened to be named too: nothing to cut
        assert out is None
        return
    assert out is not None
    assert out.endswith("\nAnswer briefly.")
    out.encode("utf-8")  # the input was ASCII with escapes; so is the output
    body = out[out.index("{") : -len("\nAnswer briefly.")]
    kept = json.loads(body)
    assert list(kept) == expected
    for key in expected:
        assert value_texts[key] in body
        assert json.dumps(kept[key]) == json.dumps(original[key])  # equal, NaN/inf-safe


# --- the object scan is linear on hostile text ------------------------------------------------


def test_scanning_many_failing_candidates_is_fast() -> None:
    hostile = [
        "{\n" * 20_000,
        '{"\n' * 20_000,
        '{"k": 1,\n' * 20_000,
        '{"a": ' * 20_000,
        "\n" * 100_000 + "{",
    ]
    for text in hostile:  # each took 0.1-1 s before (every failed decode counted lines up to it)
        assert fastest_s(partial(find_objects, text)) < LINEAR_BOUND_S, text[:10]


def test_objects_after_hostile_text_of_moderate_size_are_still_found() -> None:
    obj = json.dumps({f"k{i}": i for i in range(10)})
    text = "{\n" * 500 + '{"broken" \n' * 200 + "data = " + obj
    spans = find_objects(text)
    assert [text[s.start : s.end] for s in spans] == [obj]
