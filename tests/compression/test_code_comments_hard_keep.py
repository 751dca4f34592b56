"""Comment stripping keeps, whole, every comment that holds a number, a URL or a file path, leaves
unclosed fences alone, and finds fences in linear time."""

from __future__ import annotations

import pytest

from opencompress.compression import compress
from opencompress.compression.base import Policy, TextInfo
from opencompress.compression.stages.code import CodeComments, strip_c_family, strip_python
from support.timing import LINEAR_BOUND_S, fastest_s

PAD = "Our team will review every item on our list carefully. " * 16
STAGE = CodeComments()
PROSE = TextInfo(role="system", kind="prose")


def test_a_comment_with_a_url_and_numbers_survives_aggressive_compression() -> None:
    block = (
        "```python\nTIMEOUT = 30  # see https://example.com/limits?v=2 (max 1,000)\n"
        "RETRIES = 3  # try again after a failure\n```\n"
    )
    messages = [{"role": "system", "content": block + PAD}, {"role": "user", "content": "ok?"}]
    out = compress(messages, policy=Policy(level="aggressive")).messages[0]["content"]
    assert "TIMEOUT = 30  # see https://example.com/limits?v=2 (max 1,000)\n" in out
    assert "RETRIES = 3\n" in out  # the plain comment in the same block did go


@pytest.mark.parametrize(
    "comment",
    [
        "# wait 30 seconds",
        "# limit: v2",
        "# docs at https://example.com/x",
        "# mirror on www.example.org",
        "# written to src/app/config",
        "# see /etc/hosts",
        "# relative ./build or ~/cache",
        "# Windows: C:\\Temp\\out",
        "# loaded from settings.yaml",
        "# see README.md for details",
    ],
)
def test_python_comments_with_a_digit_url_or_path_stay_whole(comment: str) -> None:
    src = f"x = 1  {comment}\n# plain words only\ny = 2  # also plain\n"
    assert strip_python(src) == f"x = 1  {comment}\ny = 2\n"


def test_c_family_line_and_block_comments_with_a_digit_url_or_path_stay_whole() -> None:
    src = (
        "int a = 1; // max 255\nint b = 2; // plain\n/* see docs/api.md */\nint c;\n"
        "/* plain\n block */\nint d; /* http://x.test/y */\n"
    )
    assert strip_c_family(src, "c") == (
        "int a = 1; // max 255\nint b = 2;\n/* see docs/api.md */\nint c;\nint d; /* http://x.test/y */\n"
    )


def test_unclosed_fences_are_left_alone_and_closed_ones_still_stripped() -> None:
    text = "Intro.\n```python\nx = 1  # plain\n```\nMore.\n```python\ny = 2  # plain\n"
    assert STAGE.transform(text, PROSE) == (
        "Intro.\n```python\nx = 1\n```\nMore.\n```python\ny = 2  # plain\n"
    )


FENCES = "Intro.\n" + "```py\n" * 2650


def test_many_unclosed_fences_are_found_in_linear_time() -> None:
    assert fastest_s(lambda: STAGE.transform(FENCES, PROSE)) < LINEAR_BOUND_S
    messages = [{"role": "system", "content": FENCES}, {"role": "user", "content": "ok?"}]
    assert fastest_s(lambda: compress(messages, policy=Policy(level="aggressive"))) < LINEAR_BOUND_S


@pytest.mark.parametrize("run", ["x" * 40000, "a." * 20000, "a-" * 20000], ids=["word", "dots", "dashes"])
def test_hard_keep_detection_is_linear_on_long_comments(run: str) -> None:
    src = f"x = 1  # {run}\n"
    assert fastest_s(lambda: strip_python(src)) < LINEAR_BOUND_S
