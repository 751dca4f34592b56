"""Prose pruning: what goes, what is never touched."""

from __future__ import annotations

import json
import re

from opencompress.compression.text.prune import prune_prose

PROSE = (
    "The committee was very careful to make sure that the report is accurate and that it is not misleading.\n"
    "It was actually the third time that the group had met in a year, and the members were quite tired.\n"
    'The chair said "the vote is final" and pointed to `the_config.yaml` at https://example.com/the/page.\n'
    "A total of 42 members attended, and seven of them were new; none of them objected to the plan at all.\n"
)


def _words(text: str) -> list[str]:
    return text.split()


def test_drops_low_information_words_within_the_cap() -> None:
    out = prune_prose(PROSE)
    assert out is not None and len(out) < len(PROSE)
    dropped = len(_words(PROSE)) - len(_words(out))
    assert 0 < dropped <= int(len(_words(PROSE)) * 0.2)
    assert "very careful" not in out  # filler goes first


def test_hard_keeps() -> None:
    out = prune_prose(PROSE, max_drop=0.5)
    assert out is not None
    for kept in (
        "42",
        "seven",
        "not",
        "none",
        '"the vote is final"',
        "`the_config.yaml`",
        "https://example.com/the/page",
    ):
        assert kept in out, kept
    # Capitalised words stay (sentence-initial "The", "It", "A" included).
    for line in out.splitlines():
        assert line.split()[0] in {"The", "It", "A"}
    assert re.findall(r"\d+", out) == re.findall(r"\d+", PROSE)


def test_articles_before_names_and_numbers_stay() -> None:
    text = (
        "In the end the Denver Broncos won the game against a team that had the 50th pick in the draft, "
        "and the crowd was very loud for the whole evening of the match in the big stadium there.\n"
    )
    out = prune_prose(text, max_drop=0.5)
    assert out is not None
    assert "the Denver Broncos" in out and "the 50th" in out


def test_never_touches_code_json_logs_context_or_demonstrations() -> None:
    assert prune_prose(json.dumps({"text": PROSE})) is None
    assert prune_prose("```\n" + PROSE + "```") is None
    log = "\n".join(
        f"2024-01-01 12:00:0{i} ERROR the worker {i} was killed; retrying = true" for i in range(9)
    )
    assert prune_prose(log) is None
    assert prune_prose("Answer using only the following context.\n\n" + PROSE) is None
    demo = "Question: How many are there?\nLet's think step by step\nThere are 3.\nThe answer is 3\n\n"
    assert prune_prose(demo + PROSE) is None


def test_short_text_and_determinism() -> None:
    assert prune_prose("The end.") is None
    assert prune_prose(PROSE) == prune_prose(PROSE)


def test_prose_around_fenced_code_is_pruned_and_the_code_is_not() -> None:
    code = "```python\n# the value is the total\nresult = the_total if a is b else that\n```\n"
    text = PROSE + "\n" + code + PROSE
    out = prune_prose(text, max_drop=0.5)
    assert out is not None and len(out) < len(text)
    assert code in out  # byte for byte, comments and all
    before, after = out.split(code)
    assert before != PROSE + "\n" and after != PROSE  # both prose parts lost words
    unclosed = PROSE + "\n~~~\n" + PROSE  # a fence left open runs to the end
    pruned = prune_prose(unclosed, max_drop=0.5)
    assert pruned is not None and pruned.endswith("\n~~~\n" + PROSE)
