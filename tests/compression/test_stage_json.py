"""JSON minification: exact golden output, and equal values with key order kept (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression.base import TextInfo
from opencompress.compression.classify import classify
from opencompress.compression.stages.json_minify import JsonEmbedded, JsonMinify, minify, minify_embedded


def test_numbers_strings_and_escapes_are_copied_verbatim() -> None:
    text = '{\n  "a" : [1, 2.50, 1e5, -0],\n  "b": "x  y \\" z",\n  "\\u00e9": null\n}'
    assert minify(text) == '{"a":[1,2.50,1e5,-0],"b":"x  y \\" z","\\u00e9":null}'


def test_duplicate_keys_and_key_order_are_kept() -> None:
    assert minify('{ "z": 1,  "a": 2, "z": 3 }') == '{"z":1,"a":2,"z":3}'


def test_not_json_or_already_minified_gives_none() -> None:
    assert minify("{not json}") is None
    assert minify('{"a":1}') is None
    assert minify("plain text") is None


def test_whole_document_stage_only_on_json_kind() -> None:
    stage = JsonMinify()
    assert stage.transform("[1,\n 2]", TextInfo(role="tool", kind="json")) == "[1,2]"
    assert stage.transform("[1,\n 2]", TextInfo(role="tool", kind="prose")) == "[1,\n 2]"


def test_embedded_blocks_at_line_start_are_minified() -> None:
    text = (
        'Result:\n{\n  "a": 1,\n  "b": [1,\n 2]\n}\nDone {not json}\n[\n1\n] trailing\n```json\n[\n 3\n]\n```'
    )
    want = 'Result:\n{"a":1,"b":[1,2]}\nDone {not json}\n[\n1\n] trailing\n```json\n[3]\n```'
    assert minify_embedded(text) == want
    assert JsonEmbedded().transform(text, TextInfo(role="tool", kind="log")) == want


_PRETTY = json.dumps({"items": [{"id": i, "tags": ["a", "b"], "price": i * 1.5} for i in range(8)]}, indent=2)


def test_mostly_json_prompt_classified_as_code_is_still_minified() -> None:
    """Pretty JSON is indented lines ending in braces, so a prompt that is mostly JSON classifies
    as code; the prose around the blocks shows it is data, and the blocks are minified."""
    small = json.dumps(json.loads(_PRETTY), separators=(",", ":"))
    for text, want in (
        (
            f"Here is the data:\n```json\n{_PRETTY}\n```\nSummarize it.",
            f"Here is the data:\n```json\n{small}\n```\nSummarize it.",
        ),
        (f"Data:\n{_PRETTY}", f"Data:\n{small}"),
    ):
        assert classify(text) == "code"
        assert JsonEmbedded().transform(text, TextInfo(role="user", kind="code")) == want


def test_json_literal_inside_source_code_keeps_its_layout() -> None:
    source = f"import json\n\nCONFIG = \\\n{_PRETTY}\n\n\ndef price(i):\n    return CONFIG['items'][i]\n"
    assert classify(source) == "code"
    assert minify_embedded(source) != source, "the block alone would minify"
    assert JsonEmbedded().transform(source, TextInfo(role="tool", kind="code")) == source


def test_embedded_single_line_json_is_left_alone() -> None:
    text = 'got {"a": 1}\n{"b": 2}'
    assert minify_embedded(text) == text


def _pairs(text: str) -> Any:
    return json.loads(text, object_pairs_hook=lambda kv: ("obj", kv))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 1, 2, 4]), st.booleans())
def test_minify_is_valid_equal_json_with_the_same_key_order(
    value: Any, indent: int | None, ascii_: bool
) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_)
    out = minify(text)
    result = text if out is None else out
    assert _pairs(result) == _pairs(text)
    assert len(result) <= len(text)


def test_table_form_for_homogeneous_object_arrays() -> None:
    from opencompress.compression.stages.json_table import JsonTable

    info = TextInfo(role="tool", kind="json")
    rows = ",".join(f'{{"id": {i}, "name": "n{i}", "score": 1.50}}' for i in range(3))
    text = f'{{"items": [{rows}], "next": null}}'
    assert JsonTable().transform(text, info) == (
        '{"items":{"columns":["id","name","score"],"rows":[[0,"n0",1.50],[1,"n1",1.50],[2,"n2",1.50]]},'
        '"next":null}'
    )
    short = '[{"a": 1, "b": 2}, {"a": 3, "b": 4}]'
    assert JsonTable().transform(short, info) == short, "fewer rows than min_rows"
    mixed = '[{"a": 1, "b": 2}, {"b": 3, "a": 4}, {"a": 5, "b": 6}]'
    assert JsonTable().transform(mixed, info) == mixed, "key order differs"
    dup = '[{"a": 1, "a": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]'
    assert JsonTable().transform(dup, info) == dup, "duplicate keys are left alone"
