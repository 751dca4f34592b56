"""log_fold: every folded entry lists the same columns, and a fold never adds o200k tokens."""

from __future__ import annotations

from opencompress.compression import Policy, compress
from opencompress.compression.base import TextInfo
from opencompress.compression.stages.logs import LogFold
from opencompress.tokens import count_messages, count_text

STAGE = LogFold(min_run=6)
INFO = TextInfo(role="tool", kind="log")


def _entries(folded: str) -> list[list[str]]:
    line = next(x for x in folded.split("\n") if x.startswith("[… "))
    body = line.split("varying: ", 1)[1].removesuffix(" …]")
    return [entry.split() for entry in body.split(" | ")]


def test_every_entry_names_every_varying_column() -> None:
    """LH404 leaves at 09:15, like the first line: its time must still be in its entry."""
    gates = ["A12", "A12", "B07", "C03", "A12", "D44", "A12", "B07", "E10", "A12", "C03", "A12"]
    times = [
        "09:15",
        "11:40",
        "09:15",
        "14:20",
        "16:05",
        "09:15",
        "18:30",
        "20:10",
        "09:15",
        "21:45",
        "22:50",
        "23:55",
    ]
    lines = [
        f"- Flight LH{400 + 2 * i} to Munich departs from gate {g} at {t}."
        for i, (g, t) in enumerate(zip(gates, times, strict=True))
    ]
    out = STAGE.transform("\n".join(lines), INFO)
    assert out != "\n".join(lines)
    entries = _entries(out)
    assert all(len(e) == 3 for e in entries)  # flight, gate, time: always all three
    assert ["LH404", "B07", "09:15."] in entries
    assert ["LH402", "A12", "11:40."] in entries


def test_table_rows_keep_their_column_positions() -> None:
    rows = [(f"P-{i:03d}", 10 if i % 2 == 0 else 10 + i, 5 if i % 2 == 1 else 5 + i) for i in range(40)]
    text = "| sku | price | stock |\n|---|---|---|\n" + "\n".join(f"| {s} | {p} | {q} |" for s, p, q in rows)
    out = STAGE.transform(text, INFO)
    entries = _entries(out)
    assert all(len(e) == 3 for e in entries)
    assert ["P-002", "10", "7"] in entries  # price 10, stock 7 (read as "price 7" before)


def test_a_line_with_another_word_count_stays_whole() -> None:
    lines = [f"worker {i} finished job number {i * 7} fine" for i in range(10)]
    lines[5] = "worker 5 finished job number 35 fine after 2 retries"
    out = STAGE.transform("\n".join(lines), INFO)
    assert lines[5] in out.split("\n")


def test_fold_that_adds_tokens_is_not_made() -> None:
    """Coloured cargo output: the characters shrink but the o200k tokens grew (553 -> 562)."""
    log = "\n".join(
        f"\x1b[32m[{i:03d}/120]\x1b[0m Compiling crate_{i} v0.{i}.1 (/home/u/proj/crates/crate_{i})"
        for i in range(15)
    )
    out = STAGE.transform(log, INFO)
    assert count_text(out) <= count_text(log)
    msgs = [{"role": "tool", "tool_call_id": "c", "content": log}, {"role": "user", "content": "go"}]
    r = compress(msgs, policy=Policy(level="balanced"))
    assert count_messages(r.messages) <= count_messages(msgs)


def test_folds_that_pay_still_happen() -> None:
    lines = [f"2024-05-01 10:00:{i:02d} INFO worker-3 processed batch {i} of 200 in 12 ms" for i in range(30)]
    text = "\n".join(lines)
    out = STAGE.transform(text, INFO)
    assert count_text(out) < count_text(text)
    entries = _entries(out)
    assert entries[0] == ["10:00:01", "1"]  # the time and the batch number, in the same columns
    assert len({len(e) for e in entries}) == 1
