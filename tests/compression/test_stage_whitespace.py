"""Golden tests for the whitespace stage: prose is normalised, code is not touched."""

from __future__ import annotations

from opencompress.compression.base import TextInfo
from opencompress.compression.stages.whitespace import Whitespace, normalise

STAGE = Whitespace()


def _run(text: str, kind: str = "prose", role: str = "user") -> str:
    return STAGE.transform(text, TextInfo(role=role, kind=kind))  # type: ignore[arg-type]


def test_trailing_spaces_crlf_and_blank_runs_in_prose() -> None:
    assert _run("a  b   \n\n\n\nc\t \r\nd\n\n") == "a  b\n\nc\nd"


def test_numbered_code_views_keep_every_space() -> None:
    view = "[File: a.py]  \n1459:            self.WEEKS,   \n1460:        )\n\n\n\ntext  "
    assert _run(view) == "[File: a.py]\n1459:            self.WEEKS,   \n1460:        )\n\ntext"


def test_leading_indentation_is_kept() -> None:
    assert _run("list:\n   - one  \n\t- two") == "list:\n   - one\n\t- two"


def test_fenced_code_is_byte_for_byte_untouched() -> None:
    text = "intro  text  \n```py\nx  =  1   \n\n\n\ny\n```\nafter   \n\n\n"
    assert _run(text) == "intro  text\n```py\nx  =  1   \n\n\n\ny\n```\nafter"


def test_unterminated_fence_is_protected_to_the_end() -> None:
    text = "see:\n```\ncode  \n   "
    assert normalise(text) == text


def test_code_json_and_diff_kinds_are_untouched() -> None:
    for kind in ("code", "json", "diff"):
        text = "def f():  \n    return  1   \n\n\n\n"
        assert _run(text, kind) == text


def test_logs_keep_inner_column_alignment() -> None:
    assert _run("col1    col2   \nval1    val2", "log") == "col1    col2\nval1    val2"


def test_tables_keep_inner_spacing() -> None:
    assert _run("| a  | b  |\n|----|----|", "prose") == "| a  | b  |\n|----|----|"
