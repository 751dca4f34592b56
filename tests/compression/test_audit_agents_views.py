"""Line-numbered file views in every agent's form are code: never folded, trimmed or comment-stripped.

The auditor reproduced it with ``cat -n`` views (``   201<TAB>code``, OpenHands and SWE-agent's
editor) and Claude Code's Read tool (``   201→code``): the stages only knew ``201:``/``201|``, so
such a view was prose, ``log_fold`` folded 16 ``assertEqual`` lines into one marker and
``whitespace`` stripped trailing spaces an ``old_str`` copied from the view has to match. A log
line that starts with a time (``12:30:01 INFO``) is not a view line, though ``12:`` looks like one.
"""

from __future__ import annotations

from typing import Any

from opencompress.compression import Policy, compress
from opencompress.compression.base import TextInfo
from opencompress.compression.classify import classify
from opencompress.compression.stages.code import CodeComments
from opencompress.compression.stages.logs import LogFold
from opencompress.compression.stages.whitespace import Whitespace
from opencompress.compression.text.views import NUMBERED_LINE, NUMBERED_LINES

FIB = [
    "class TestFib(unittest.TestCase):",
    "    def test_values(self):",
    *[f"        self.assertEqual(fib({n}), {v})" for n, v in [(3, 2), (4, 3), (5, 5), (6, 8), (7, 13)]],
    *[f"        self.assertEqual(fib({n}), {v})" for n, v in [(8, 21), (9, 34), (10, 55), (11, 89)]],
    *[f"        self.assertEqual(fib({n}), {v})" for n, v in [(12, 144), (13, 233), (14, 377), (15, 610)]],
    *[f"        self.assertEqual(fib({n}), {v})" for n, v in [(16, 987), (17, 1597), (18, 2584)]],
    "",
    "    def test_negative(self):",
    "        with self.assertRaises(ValueError):",
    "            fib(-1)",
]


def _view(sep: str, lines: list[str] = FIB, first: int = 200) -> str:
    return "\n".join(f"{first + k:6d}{sep}{line}" for k, line in enumerate(lines))


def _tool_turn(content: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "view", "arguments": "{}"}}
    return [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix the failing fib test in tests/test_fib.py."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]


def test_every_agents_view_form_is_a_numbered_line() -> None:
    for line in ("201:x = 1", "201|x", "201│x", "   201\tx = 1", "   201→x = 1", "1234567\tx", "  12:30: y"):
        assert NUMBERED_LINE.match(line), line


def test_clock_times_and_tab_separated_rows_are_not_view_lines() -> None:
    for line in (
        "12:30:01 INFO started",
        "09:15:02.123 GET /",
        "4:05.250 lap",
        "  23:59:59 tick",
        "17\tAlice\t30",
    ):
        assert not NUMBERED_LINE.match(line), line
    log = "\n".join(f"12:30:{s:02d} INFO worker ready" for s in range(20))
    assert NUMBERED_LINES.search(log) is None


def test_cat_n_and_claude_views_classify_as_code() -> None:
    assert classify(_view("\t")) == "code"
    assert classify(_view("→")) == "code"


def test_a_log_that_starts_with_clock_times_is_a_log_not_code() -> None:
    log = "\n".join(f"12:30:{s:02d} INFO request {s} served in {10 + s} ms" for s in range(30))
    assert classify(log) == "log"


def test_log_fold_never_folds_cat_n_or_claude_views() -> None:
    stage = LogFold(min_run=6)
    for sep in ("\t", "→"):
        view = _view(sep)
        assert stage.transform(view, TextInfo(role="tool", kind="prose")) == view
        assert stage.fold(view) == view


def test_whitespace_keeps_trailing_spaces_of_cat_n_and_claude_view_lines() -> None:
    body = ["def render(rows):", "    out = []   ", "    return out  "]
    for sep in ("\t", "→"):
        view = _view(sep, body, first=300) + "\n" + f"{303:6d}{sep}"
        assert Whitespace().transform(view, TextInfo(role="tool", kind="prose")) == view


def test_whitespace_still_trims_clock_log_lines() -> None:
    log = "12:30:01 INFO up   \n12:30:02 INFO ready  "
    assert (
        Whitespace().transform(log, TextInfo(role="tool", kind="log"))
        == "12:30:01 INFO up\n12:30:02 INFO ready"
    )


def test_code_comments_leave_a_cat_n_view_in_a_fence_alone() -> None:
    text = "Here is the file:\n```python\n" + _view("\t", ["x = 1  # one", "y = 2  # two"]) + "\n```\n"
    assert CodeComments().transform(text, TextInfo(role="tool", kind="prose")) == text


def test_compress_keeps_views_byte_for_byte_at_every_level() -> None:
    trailing = ["def render(rows):", "    out = []   ", "    for r in rows:", "        out.append(r)   "] * 6
    for view in (_view("\t"), _view("→"), _view("\t", trailing, first=300)):
        for level in ("lossless", "balanced"):
            msgs = _tool_turn(view)
            out = compress(msgs, policy=Policy(level=level))  # type: ignore[arg-type]
            assert out.messages[3]["content"] == view, level
