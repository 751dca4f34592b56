"""bench/prefix_cache.py on a tiny synthetic trajectory: it pairs turns by their messages, counts
the cached prefix against identity in the same run, and its ``stable`` column catches a compressor
that rewrites history differently from turn to turn."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from opencompress.compression import CompressionResult
from support.bench import load_bench

SYSTEM = "You are an agent. Run one command per turn and wait for its output."
VIEW = "\n".join(f"{n}:    total_{n} = price_{n} * quantity_{n}      " for n in range(1, 40))


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("prefix_cache")


def _turns(count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for turn in range(count):
        messages.append({"role": "user", "content": f"[File: shop.py (39 lines)]\n{VIEW}\n(turn {turn})"})
        messages.append(
            {"role": "assistant", "content": f"I will look again, pass {turn}.\n```\nopen shop.py\n```"}
        )
    messages.append({"role": "user", "content": f"[File: shop.py (39 lines)]\n{VIEW}\n(turn {count})"})
    return messages


def _write(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    records = [
        {"id": f"t-{n}", "source": "agent_traj", "messages": _turns(n), "answers": []} for n in (3, 1, 5)
    ]
    (data / "agent_traj.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return data


def _rows(bench: ModuleType, data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert bench.main(["--data", str(data), "--json"]) == 0
    return {row["level"]: row for row in json.loads(capsys.readouterr().out)}


def test_pairs_by_messages_and_measures_against_identity(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _rows(bench, _write(tmp_path), capsys)
    assert set(rows) == {"identity", "lossless", "balanced", "aggressive"}
    # t-3 continues t-1, t-5 continues t-3 (its longest predecessor, not t-1).
    assert all(row["pairs"] == 2 and row["stable"] == 2 for row in rows.values())
    identity = rows["identity"]
    assert identity["reduction"] == 0.0 and identity["reduction@0.1"] == 0.0
    assert 0.5 < identity["cached_share"] < 1.0  # everything but the new turns is a cache hit
    balanced = rows["balanced"]
    assert balanced["later_tokens"] < identity["later_tokens"]  # the repeated views fold
    assert balanced["cached_tokens"] > 0
    for price in (0.1, 0.5):
        want = balanced["later_tokens"] - balanced["cached_tokens"] * (1 - price)
        assert balanced[f"effective@{price}"] == pytest.approx(want)


def test_stable_column_catches_history_rewritten_per_turn(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unstable(messages: Sequence[Mapping[str, Any]], **_: Any) -> CompressionResult:
        marked = [{**m, "content": f"{m['content']} [{len(messages)}]"} for m in messages]
        return CompressionResult(messages=marked, level="balanced")  # type: ignore[arg-type]

    monkeypatch.setattr(bench, "compress", unstable)
    rows = _rows(bench, _write(tmp_path), capsys)
    assert rows["balanced"]["stable"] == 0 and rows["balanced"]["cached_tokens"] == 0
    assert rows["identity"]["stable"] == 2


def test_missing_data_skips_with_exit_zero(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--data", str(tmp_path / "absent")]) == 0
    assert "skipping" in capsys.readouterr().out
