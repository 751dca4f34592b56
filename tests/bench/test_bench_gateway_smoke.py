"""bench/gateway.py: a real quick run through all four variants (it starts, measures, bills every
request, prints the verdicts), plus the arithmetic behind the figures and the PASS/FAIL lines."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"
VARIANTS = ("direct", "relay", "gateway_off", "gateway_balanced")


@pytest.fixture(scope="module")
def bench_modules() -> tuple[ModuleType, ModuleType]:
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import _load
        import _report
    finally:
        sys.path.remove(str(BENCH_DIR))
    return _load, _report


@pytest.mark.timeout(15)
def test_quick_run_measures_every_variant_and_bills_every_gateway_request(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "gateway.py"),
            "--quick",
            "--json",
            str(out),
            "--tmpdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=14,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    summary = report["summary"]
    assert set(summary) == set(VARIANTS)
    for variant, row in summary.items():
        assert row["errors"] == 0, (variant, row["error_samples"])
        assert row["requests_ok"] >= 4 * 24, variant  # every point's requests answered
        assert 0 < row["c1_p50_ms"] <= row["c1_p99_ms"], variant
        assert row["c64_rps"] > 0 and row["stream_ttfb_p50_ms"] > 0, variant
        assert row["peak_rss_mib"] > 10, variant  # read from /proc, not a default
        assert row["cpu_ms_per_req"] >= 0, variant
    assert summary["direct"]["c1_added_p50_ms"] == 0
    for variant, level in (("gateway_off", "off"), ("gateway_balanced", "balanced")):
        check = report["checks"][variant]
        assert check["ok"], check  # one ok usage row per request sent, balance change = charges
        assert check["rows"] == check["expected"] > 4 * 24
        assert check["headers"]["x-opencompress-level"] == [level]
    verdicts = [line for line in proc.stdout.splitlines() if line.strip().startswith(("PASS", "FAIL", "n/a"))]
    assert len(verdicts) == 4, proc.stdout
    assert not list(tmp_path.glob("oc-bench-gateway-*")), "work directory left behind"


def test_percentile_interpolates(bench_modules: tuple[ModuleType, ModuleType]) -> None:
    load, _ = bench_modules
    assert load.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert load.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert load.percentile([1.0, 2.0, 3.0, 4.0], 99) == pytest.approx(3.97)
    assert math.isnan(load.percentile([], 50))


def _measured(report: ModuleType, load: ModuleType, latency: float, cpu_ms: float, rps: float) -> Any:
    """A variant whose every request took ``latency`` ms and ``cpu_ms`` of server CPU."""
    points = {}
    for name in ("c1", "c32", "c64", "stream_c1"):
        n = 100
        result = load.PointResult(latencies_ms=[latency] * n, ttfb_ms=[latency / 2] * n, wall_s=n / rps)
        points[name] = report.Measured(load=result, server_cpu_s=n * cpu_ms / 1000)
    return points


def test_summary_and_targets(bench_modules: tuple[ModuleType, ModuleType]) -> None:
    load, report = bench_modules
    results = {
        "direct": _measured(report, load, 1.0, 0.2, 4000),
        "relay": _measured(report, load, 1.4, 0.25, 2000),
        "gateway_off": _measured(report, load, 1.5, 0.6, 900),
    }
    summary = report.summarise(results, {"direct": 2048, "relay": 4096, "gateway_off": 8192})
    gw = summary["gateway_off"]
    assert gw["c1_added_p50_ms"] == pytest.approx(0.5)
    assert gw["stream_ttfb_added_p50_ms"] == pytest.approx(0.25)
    assert gw["c64_rps"] == pytest.approx(900)
    assert gw["cpu_ms_per_req"] == pytest.approx(0.6)
    assert gw["c64_rps_per_core"] == pytest.approx(1000 / 0.6)
    assert gw["peak_rss_mib"] == 8
    verdicts = [ok for ok, _ in report.targets(summary)]
    # added p50 0.5 vs 0.4 ms (1.25x: pass, twice), 900 vs 2000 rps (45%: fail), CPU 2.4x (fail)
    assert verdicts == [True, True, False, False]
    text = report.format_targets(summary)
    assert text.count("PASS") == 2 and text.count("FAIL") == 2
    assert "1.25x" in text and "45%" in text and "2.40x" in text
    assert "capped" not in text
    summary["relay"]["c64_driver_core_util"] = 0.95  # the driver core, not the relay, was the limit
    noted = report.format_targets(summary)
    assert "capped by the load-generator core (95% busy)" in noted
    assert "42% of the relay's rate" in noted  # 1/0.6 vs 1/0.25 requests per CPU-ms


def test_target_is_undefined_when_the_relay_adds_nothing(
    bench_modules: tuple[ModuleType, ModuleType],
) -> None:
    load, report = bench_modules
    results = {
        "direct": _measured(report, load, 1.0, 0.2, 4000),
        "relay": _measured(report, load, 1.0, 0.25, 2000),
        "gateway_off": _measured(report, load, 1.2, 0.3, 1500),
    }
    verdicts = [ok for ok, _ in report.targets(report.summarise(results, {}))]
    assert verdicts == [None, None, True, True]
