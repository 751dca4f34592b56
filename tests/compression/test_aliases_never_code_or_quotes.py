"""Aliasing never touches code or anything quoted, and its work stays linear in the text."""

from __future__ import annotations

import re
import tracemalloc
from typing import Any

import pytest

from opencompress.compression import compress
from opencompress.compression.base import Policy
from opencompress.compression.stages.aliases import SIGIL, Aliases
from opencompress.compression.text.quoting import quoted_spans
from opencompress.tokens import count_messages
from support.timing import LINEAR_BOUND_S, fastest_s

PATH = "/home/runner/work/project/src/module_a/file_1.py"


def _balanced(content: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    msgs: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": "c", "content": content},
        {"role": "user", "content": "q"},
    ]
    out = compress(msgs, policy=Policy(level="balanced")).messages
    return str(out[0]["content"]), msgs, out


def _stage(texts: list[str]) -> list[str]:
    stage = Aliases()
    state = stage.new_state()
    return [stage.step(state, text) for text in texts]


def _quoted(text: str) -> list[str]:
    return [text[a:b] for a, b in quoted_spans(text)]


def test_a_path_inside_a_quoted_string_is_never_aliased() -> None:
    content = "\n".join(f'step {i}: "open {PATH} now"' for i in range(4))
    out, msgs, after = _balanced(content)
    assert SIGIL not in out
    assert re.findall(r'"[^"]*"', content) == re.findall(r'"[^"]*"', out)
    assert count_messages(after) <= count_messages(msgs)


def test_the_same_path_outside_quotes_is_still_aliased() -> None:
    content = "\n".join(f"step {i}: open {PATH} now" for i in range(4))
    out, msgs, after = _balanced(content)
    assert out.startswith(f"§AA = {PATH}\n") and out.count("§AA") == 5
    assert count_messages(after) < count_messages(msgs)


def test_a_repeated_code_line_is_never_aliased() -> None:
    body = "    log_event(user_account, session_token, request_payload, response_status)"
    content = "\n".join(f"def h{i}(request):\n{body}\n    return {i}" for i in range(4))
    out, msgs, after = _balanced(content)
    assert SIGIL not in out and out.count(body) == 4
    assert count_messages(after) <= count_messages(msgs)


def test_a_single_quoted_line_is_never_aliased() -> None:
    line = "'Please make sure that you always read the whole file before you edit anything here'"
    out, msgs, after = _balanced("\n".join([line] * 4))
    assert SIGIL not in out and out.count(line) == 4
    assert count_messages(after) <= count_messages(msgs)


def test_a_prose_line_with_apostrophes_is_still_aliased() -> None:
    line = "Don't forget that you always read the whole file before you edit anything here."
    out = _stage(["\n".join([line, "a", line, "b", line])])[0]
    assert out == f"§AA = {line}\n§AA\na\n§AA\nb\n§AA"


@pytest.mark.parametrize(
    "line",
    [
        "return compute the total of every item and then report it back to the caller",
        "    self.client.send the request and wait until the server finally answers back",
        "Call handleRequest with the parsed body and then store the result in the cache",
        "# Please make sure that you always read the whole file before you edit anything",
        "The parser reads the input and emits tokens and values -> then builds the tree",
    ],
)
def test_lines_that_look_like_code_are_never_line_aliased(line: str) -> None:
    text = "\n".join([line] * 4)
    assert _stage([text]) == [text]


def test_quoted_spans_cover_strings_docstrings_fences_and_escaped_json() -> None:
    assert _quoted('a "b c" d') == ['"b c"']
    assert _quoted("don't stop 'here now' ok") == ["'here now'"]
    assert _quoted("x = f'see /a/b now'") == ["'see /a/b now'"]
    assert _quoted('x "open\ny" z') == ['x "open', 'y" z']  # open on its line: the whole line
    assert _quoted('a\n"""doc\n/p/q\n"""\nz') == ['"""doc\n/p/q\n"""']
    assert _quoted("```\ncode /a/b\n```\nafter") == ["```\ncode /a/b\n```"]
    assert _quoted('say \\"hi /a/b\\" ok') == ['say \\"hi /a/b\\" ok']
    assert _quoted('"a \\"b\\" c" d') == ['"a \\"b\\" c"']


def test_a_lone_closing_triple_quote_only_quotes_its_line() -> None:
    text = f'12:    """\n13:    x = "{PATH}"\n(Open file: {PATH})'
    assert _quoted(text) == ['12:    """', f'"{PATH}"']


def test_a_path_inside_a_multiline_docstring_is_never_aliased() -> None:
    doc = f'def f():\n    """Reads\n    {PATH} and\n    {PATH} too.\n    """\n'
    text = doc + f"(Open file: {PATH})\n(Current file: {PATH})"
    out = _stage([text, text])
    assert all(o.count(f"    {PATH} and") == 1 and o.count(f"    {PATH} too") == 1 for o in out)
    assert "(Open file: §AA)\n(Current file: §AA)" in out[1]


def test_a_very_long_slash_run_compresses_fast_and_in_bounded_memory() -> None:
    content = "/aa" * 25000
    best = fastest_s(lambda: _balanced(content))
    assert best < LINEAR_BOUND_S, f"{best * 1000:.0f} ms"
    out, msgs, after = _balanced(content)
    assert out == content and count_messages(after) <= count_messages(msgs)
    tracemalloc.start()
    try:
        Aliases().candidates(content)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, peak


def test_deep_paths_yield_a_bounded_number_of_prefixes() -> None:
    deep = "/" + "/".join(f"directory_{i:03}" for i in range(200))
    found = Aliases().candidates(f"see {deep} and {deep}")
    assert found[deep] == 2
    assert 0 < len(found) <= 25
    assert all(len(s) <= 512 for s in found if s != deep)
