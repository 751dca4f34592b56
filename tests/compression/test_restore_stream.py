"""The stream restorer on aliases split at every possible chunk boundary."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression.restore import AliasRestorer

ALIASES = {"§AA": "/usr/lib/python3.11/site-packages/", "§AB": 'say "hi"\n', "§ZQ": "x"}


def _plain(text: str) -> str:
    for alias, original in ALIASES.items():
        text = text.replace(alias, original)
    return text


def _run(restorer: AliasRestorer, pieces: list[str]) -> str:
    return "".join(restorer.feed(p) for p in pieces) + restorer.flush()


SAMPLES = ["open §AA then §AB.", "§AA§AB§ZQ", "no alias § here §Z §ZZ §", "end with §A", "§"]


def test_every_single_split_point() -> None:
    for text in SAMPLES:
        for cut in range(len(text) + 1):
            assert _run(AliasRestorer(ALIASES), [text[:cut], text[cut:]]) == _plain(text)


def test_every_pair_of_split_points() -> None:
    text = "a§AAb§ABc§ZQ"
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            assert _run(AliasRestorer(ALIASES), [text[:i], text[i:j], text[j:]]) == _plain(text)


def test_one_character_deltas_hold_only_partial_aliases() -> None:
    restorer = AliasRestorer(ALIASES)
    assert restorer.feed("ab") == "ab"
    assert restorer.feed("§") == ""
    assert restorer.feed("A") == ""
    assert restorer.feed("A") == ALIASES["§AA"]
    assert restorer.feed("§Q") == "§Q", "not a prefix of any alias: passes at once"


def test_json_escaped_arguments_stay_valid_json() -> None:
    args = json.dumps({"path": "§AAx.py", "note": "§AB"})  # ensure_ascii → \u00a7
    assert "\\u00a7" in args
    for cut in range(len(args) + 1):
        out = _run(AliasRestorer(ALIASES, json_escaped=True), [args[:cut], args[cut:]])
        assert json.loads(out) == {"path": ALIASES["§AA"] + "x.py", "note": ALIASES["§AB"]}
    raw = '{"p": "§AA"}'
    assert json.loads(_run(AliasRestorer(ALIASES, json_escaped=True), [raw])) == {"p": ALIASES["§AA"]}


def test_no_aliases_is_identity() -> None:
    restorer = AliasRestorer({})
    assert restorer.feed("§AA") == "§AA" and restorer.flush() == ""


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["§AA", "§AB", "§ZQ", "§", "A", "B", "Z", "text ", "\\u00a7"]), max_size=30),
    st.lists(st.integers(min_value=0, max_value=200), max_size=10),
)
def test_random_chunking_equals_whole_text(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    assert _run(AliasRestorer(ALIASES), pieces) == _run(AliasRestorer(ALIASES), [text])
