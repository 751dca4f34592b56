"""bench/compress_call.py runs and prints one row per level."""

from __future__ import annotations

import pytest

from support.bench import load_bench


def test_prints_a_row_per_level(capsys: pytest.CaptureFixture[str]) -> None:
    module = load_bench("compress_call")
    assert module.main(["--number", "3", "--repeat", "1"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["lossless", "balanced", "aggressive"]
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in rows)
