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
    folded = "[… 6 similar lines, varying: b (1.0) | c (2.0) | d (3.0) | e (4.0) | f (5.0) | g (6.0) …]"
    assert STAGE.transform(text, INFO) == "\n".join(["$ pip install -e .", run[0], folded, run[-1], "done"])


def test_error_and_warning_lines_inside_a_run_are_kept() -> None:
    lines = [f"step {i} finished without any problem at all" for i in range(10)]
    lines[4] = "step 4 WARNING disk"
    lines[7] = "step 7 Error: boom"
    text = "\n".join(lines)
    want = "\n".join([lines[0], marker(3, ["1", "2", "3"]), lines[4], marker(2, ["5", "6"]), *lines[7:]])
    assert want.splitlines()[1] == "[… 3 similar lines, varying: 1 | 2 | 3 …]"
    assert STAGE.transform(text, INFO) == want


def test_a_marker_longer_than_the_lines_it_replaces_is_not_used() -> None:
    text = "\n".join(f"step {i} ok" for i in range(6))  # 4 short lines: the list would be longer
    assert STAGE.transform(text, INFO) == text


def test_short_runs_numbered_code_and_small_texts_are_untouched() -> None:
    short = "\n".join(f"step {i} ok" for i in range(5))
    assert STAGE.transform(short, INFO) == short
    numbered = "\n".join(f"{i}:    x = {i}" for i in range(1, 20))
    assert STAGE.transform(numbered, INFO) == numbered
    lines = "\n".join(f"step {i} ok" for i in range(12))
    assert STAGE.transform(lines, TextInfo(role="tool", kind="log", small=True)) == lines
    assert STAGE.transform(lines, TextInfo(role="tool", kind="code")) == lines


def test_identical_lines_fold_without_a_varying_list() -> None:
    text = "\n".join(["start", *["retrying connection to the server now"] * 8, "end"])
    out = STAGE.transform(text, INFO)
    assert out == "\n".join(
        [
            "start",
            "retrying connection to the server now",
            marker(6),
            "retrying connection to the server now",
            "end",
        ]
    )


def test_varying_words() -> None:
    from opencompress.compression.stages.logs import varying

    assert varying(["a", "b", "c"], "a x c") == "x"
    assert varying(["a", "b", "c"], "a b c d") == "d"


def test_dissimilar_lines_are_not_a_run() -> None:
    text = "\n".join(
        ["alpha one two", "beta three four five", "gamma", "delta x y z w", "eps", "zeta 1 2", "eta"]
    )
    assert STAGE.transform(text, INFO) == text
