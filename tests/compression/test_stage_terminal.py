"""The terminal stage: colour and cursor codes go, covered progress redraws go, nothing visible changes."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.compression import Policy, compress
from opencompress.compression.base import TextInfo
from opencompress.compression.classify import classify
from opencompress.compression.pipeline import clear_caches
from opencompress.compression.policy import CONFIGS, allows
from opencompress.compression.stages.terminal import Terminal, clean, collapse_redraws
from opencompress.tokens import count_text

STAGE = Terminal()
INFO = TextInfo(role="tool", kind="log")
GREEN, RED, BOLD, RESET = "\x1b[32m", "\x1b[31m", "\x1b[1m", "\x1b[0m"


def _pytest_output(n: int = 100) -> str:
    return "\n".join(
        f"{GREEN}PASSED{RESET} tests/test_api.py::test_endpoint_{k} {GREEN}[{k}%]{RESET}"
        if k % 9
        else f"{RED}FAILED{RESET} tests/test_api.py::test_endpoint_{k} - {BOLD}AssertionError{RESET}"
        for k in range(n)
    )


def _tool_turn(content: str) -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "sh", "arguments": "{}"}}
    return [
        {"role": "user", "content": "Run the tests."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": content},
    ]


def test_colour_codes_go_and_the_visible_text_stays() -> None:
    text = _pytest_output()
    out = STAGE.transform(text, INFO)
    assert "\x1b" not in out
    assert out.split("\n")[1] == "PASSED tests/test_api.py::test_endpoint_1 [1%]"
    assert out.split("\n")[9] == "FAILED tests/test_api.py::test_endpoint_9 - AssertionError"
    assert count_text(out) < count_text(text) * 0.7


def test_cursor_and_erase_codes_go_hyperlinks_stay() -> None:
    assert clean("\x1b[2K\x1b[1Gbuilding\x1b[K done\x1b(B") == "building done"
    link = "see \x1b]8;;https://ci.example/run/42\x1b\\run 42\x1b]8;;\x1b\\ for details"
    assert clean(link) == link


def test_numbered_view_lines_keep_their_bytes() -> None:
    text = f"{RED}error{RESET}: see below\n    12\tprint('{RED}red{RESET}')\n    13\tx = 1"
    assert clean(text) == f"error: see below\n    12\tprint('{RED}red{RESET}')\n    13\tx = 1"


def test_tqdm_redraws_keep_what_the_terminal_shows() -> None:
    bar = (
        "\r  0%|          | 0/100 [00:00<?, ?it/s]"
        "\r 10%|█         | 10/100 [00:00<00:01, 50.0it/s]"
        "\r 55%|█████▌    | 55/100 [00:01<00:01, 49.0it/s]"
        "\r100%|██████████| 100/100 [00:02<00:00, 49.9it/s]"
    )
    out = clean("Training\n" + bar + "\nDone\r\n")
    first, last = bar.split("\r")[1], bar.split("\r")[-1]  # 0/100 has no rate: another shape
    assert out == f"Training\n{first}\r{last}\nDone\r\n"


def test_a_shorter_redraw_keeps_the_one_it_does_not_cover() -> None:
    line = "Downloading 99.5 MB eta 1s\rDownloading 100 MB"  # the terminal shows "Downloading 100 MB eta 1s"
    assert collapse_redraws(line) == line
    longer = "Downloading 9.5/20 MB eta 9s\rDownloading 10.5/20 MB eta 8s"
    assert collapse_redraws(longer) == "Downloading 10.5/20 MB eta 8s"
    no_progress = "Downloading 9.5 MB eta 9s\rDownloading 10.5 MB eta 8s"  # no %, bar or n/m count
    assert collapse_redraws(no_progress) == no_progress


def test_crlf_plain_cr_text_and_unlabelled_numbers_stay() -> None:
    for text in (
        "line one\r\nline two\r\n",
        "first row\rsecond row\rthird row",  # old Mac line ends, not progress
        "1,10%\r2,20%\r3,30%",  # bare numbers: rows, not redraws
        "下载 10%|█   |\r下载 20%|██  |",  # wide characters: covering cannot be told from lengths
    ):
        assert clean(text) == text
    assert clean("step 10% done|█|\x1b[1A\rstep 20% done|██|") == "step 10% done|█|\rstep 20% done|██|"
    assert clean("step 10% done|█|\rstep 20% done|██|") == "step 20% done|██|"  # the same without the move


def test_classify_looks_through_colour_codes() -> None:
    assert classify(_pytest_output(30)) == "log"
    diff = "\n".join(
        [
            f"{BOLD}diff --git a/x.py b/x.py{RESET}",
            f"{BOLD}--- a/x.py{RESET}",
            f"{BOLD}+++ b/x.py{RESET}",
            "\x1b[36m@@ -1,2 +1,2 @@\x1b[m",
            f"{RED}-x = 1{RESET}",
            f"{GREEN}+x = 2{RESET}",
        ]
    )
    assert classify(diff) == "diff"
    assert STAGE.transform(diff, TextInfo(role="tool", kind="diff")).startswith("diff --git a/x.py")


def test_policy_runs_it_at_balanced_and_aggressive_on_small_texts_too() -> None:
    assert "terminal" not in CONFIGS["lossless"].text and "terminal" not in CONFIGS["off"].text
    assert CONFIGS["balanced"].text[0] == "terminal" and CONFIGS["aggressive"].text[0] == "terminal"
    assert allows("terminal", kind="log", role="tool", small=True)
    assert not allows("terminal", kind="code", role="tool", small=False)
    assert not allows("terminal", kind="log", role="assistant", small=False)


def test_compress_strips_codes_at_balanced_but_not_at_lossless() -> None:
    clear_caches()
    small = f"{GREEN}ok{RESET} 3 passed in 0.12s"
    for content in (_pytest_output(), small):
        msgs = _tool_turn(content)
        balanced = compress(msgs, policy=Policy(level="balanced"))
        assert "\x1b" not in balanced.messages[2]["content"]
        assert "terminal" in balanced.stages_applied
        lossless = compress(msgs, policy=Policy(level="lossless"))
        assert lossless.messages[2]["content"] == content
    assert compress(_tool_turn(small), policy=Policy(level="balanced")).messages[2]["content"] == (
        "ok 3 passed in 0.12s"
    )


def test_a_failing_terminal_stage_is_skipped_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Terminal, text: str, info: TextInfo) -> str:
        raise RuntimeError("boom")

    clear_caches()
    monkeypatch.setattr(Terminal, "transform", boom)
    content = _pytest_output(5) + "\n\n\n\nend   "  # small: only re-encoding besides terminal
    out = compress(_tool_turn(content), policy=Policy(level="balanced"))
    clear_caches()
    assert "terminal" in out.stages_failed
    assert out.messages[2]["content"] == content.rstrip().replace("\n\n\n\n", "\n\n")  # whitespace still ran


def test_prefix_stable_and_deterministic() -> None:
    first = _tool_turn(_pytest_output(50))
    later = [*first, {"role": "assistant", "content": "2 failed."}, {"role": "user", "content": "Fix them."}]
    a = compress(first, policy=Policy(level="balanced")).messages
    b = compress(later, policy=Policy(level="balanced")).messages
    assert a[2] == b[2]
    assert compress(first, policy=Policy(level="balanced")).messages == a
