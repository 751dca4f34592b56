"""The restorer on every split point of every alias, escaped backslashes, and random chunking."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression.restore import AliasRestorer

MAPPING = {"§AA": "/srv/app/src/module", "§AB": 'quote " and \\ back', "§ZZ": "ünïcode"}


def _run(restorer: AliasRestorer, pieces: list[str]) -> str:
    return "".join(restorer.feed(p) for p in pieces) + restorer.flush()


def _expand(text: str) -> str:
    for alias, original in MAPPING.items():
        text = text.replace(alias, original)
    return text


def test_every_alias_at_every_single_and_double_split() -> None:
    for alias in MAPPING:
        text = f"x{alias}y {alias}{alias}"
        want = _expand(text)
        for i in range(len(text) + 1):
            assert _run(AliasRestorer(MAPPING), [text[:i], text[i:]]) == want
            for j in range(i, len(text) + 1):
                assert _run(AliasRestorer(MAPPING), [text[:i], text[i:j], text[j:]]) == want


def test_unknown_alias_like_text_and_partial_tail_pass_verbatim() -> None:
    text = "§AC §A §Zz § §"
    assert _run(AliasRestorer(MAPPING), list(text)) == text
    restorer = AliasRestorer(MAPPING)
    assert restorer.feed("tail §A") == "tail "
    assert restorer.flush() == "§A"


def test_unambiguous_text_is_never_held() -> None:
    restorer = AliasRestorer(MAPPING)
    for piece in ["hello ", "world", " §Q", "!"]:
        assert restorer.feed(piece) == piece


def test_json_mode_every_split_keeps_arguments_valid() -> None:
    args = json.dumps({"path": "§AA/x.py", "note": "§AB", "u": "§ZZ"})  # ascii escapes: \u00a7
    want = {"path": MAPPING["§AA"] + "/x.py", "note": MAPPING["§AB"], "u": MAPPING["§ZZ"]}
    for i in range(len(args) + 1):
        for j in range(i, len(args) + 1, 3):
            out = _run(AliasRestorer(MAPPING, json_escaped=True), [args[:i], args[i:j], args[j:]])
            assert json.loads(out) == want


def test_json_mode_escaped_backslash_before_u00a7_is_literal_text() -> None:
    args = json.dumps({"s": "\\u00a7AA"})  # the literal characters \u00a7AA, not the sigil
    for i in range(len(args) + 1):
        out = _run(AliasRestorer(MAPPING, json_escaped=True), [args[:i], args[i:]])
        assert json.loads(out) == {"s": "\\u00a7AA"}


def test_uppercase_escape_is_recognised() -> None:
    out = _run(AliasRestorer(MAPPING, json_escaped=True), ['{"p": "\\u00A7AA"}'])
    assert json.loads(out) == {"p": MAPPING["§AA"]}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["§AA", "§AB", "§ZZ", "§", "§A", "A", "Z", "x ", "\\", "\\u00a7", "\n"]), max_size=25
    ),
    st.lists(st.integers(min_value=0, max_value=120), max_size=8),
    st.booleans(),
)
def test_random_chunking_equals_restoring_the_whole_text(
    parts: list[str], cuts: list[int], escaped: bool
) -> None:
    text = "".join(parts)
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    whole = _run(AliasRestorer(MAPPING, json_escaped=escaped), [text])
    assert _run(AliasRestorer(MAPPING, json_escaped=escaped), pieces) == whole
    if not escaped:
        assert whole == _expand(text)
