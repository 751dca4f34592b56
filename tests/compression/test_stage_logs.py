"""Log folding: first, last and every error/warning line of a run survive."""

from __future__ import annotations

from opencompress.compression.base import TextInfo
from opencompress.compression.stages.logs import LogFold, marker

STAGE = LogFold(min_run=6)
INFO = TextInfo(role="tool", kind="log")


def _pip(names: list[str]) -> list[str]:
    return [
        f"Requirement already satisfied: {n} in /env/lib/site-packages ({i}.0)" for i, n in enumerate(names)
    ]


def test_run_of_similar_lines_is_folded_keeping_the_ends() -> None:
    run = _pip(["a", "b", "c", "d", "e", "f", "g", "h"])
    text = "\n".join(["$ pip install -e .", *run, "done"])
    assert STAGE.transform(text, INFO) == "\n".join(
        ["$ pip install -e .", run[0], marker(6), run[-1], "done"]
    )


def test_error_and_warning_lines_inside_a_run_are_kept() -> None:
    lines = [f"step {i} ok" for i in range(10)]
    lines[4] = "step 4 WARNING disk"
    lines[7] = "step 7 Error: boom"
    text = "\n".join(lines)
    want = "\n".join([lines[0], marker(3), lines[4], marker(2), lines[7], lines[8], lines[9]])
    assert STAGE.transform(text, INFO) == want


def test_short_runs_numbered_code_and_small_texts_are_untouched() -> None:
    short = "\n".join(f"step {i} ok" for i in range(5))
    assert STAGE.transform(short, INFO) == short
    numbered = "\n".join(f"{i}:    x = {i}" for i in range(1, 20))
    assert STAGE.transform(numbered, INFO) == numbered
    lines = "\n".join(f"step {i} ok" for i in range(12))
    assert STAGE.transform(lines, TextInfo(role="tool", kind="log", small=True)) == lines
    assert STAGE.transform(lines, TextInfo(role="tool", kind="code")) == lines


def test_dissimilar_lines_are_not_a_run() -> None:
    text = "\n".join(
        ["alpha one two", "beta three four five", "gamma", "delta x y z w", "eps", "zeta 1 2", "eta"]
    )
    assert STAGE.transform(text, INFO) == text
