"""Figures and the printed report of the gateway benchmark (no I/O besides returning strings).

"Added" latency is a variant's percentile minus the direct-to-simulator percentile at the same
concurrency (difference of percentiles, not a percentile of differences: requests are not
paired). CPU per request is the server process's utime+stime over the measured requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from _load import PointResult, percentile

VARIANT_LABELS = {
    "direct": "direct to simulator",
    "relay": "minimal relay",
    "gateway_off": "gateway, compression off",
    "gateway_balanced": "gateway, compression balanced",
}
NONSTREAM_POINTS = ("c1", "c32", "c64")
TARGET_ADDED_P50 = 1.5
TARGET_RPS_SHARE = 0.5
TARGET_CPU_RATIO = 2.0


@dataclass
class Measured:
    """One (variant, point): load results plus the server's CPU over exactly those requests."""

    load: PointResult = field(default_factory=PointResult)
    server_cpu_s: float = 0.0
    loop_cpu_s: float = 0.0
    worker_cpu_s: float = 0.0
    driver_cpu_s: float = 0.0
    """Load generator + simulator CPU (they share the other core when pinned)."""

    def add(self, other: Measured) -> None:
        self.load.merge(other.load)
        self.server_cpu_s += other.server_cpu_s
        self.loop_cpu_s += other.loop_cpu_s
        self.worker_cpu_s += other.worker_cpu_s
        self.driver_cpu_s += other.driver_cpu_s


Results = Mapping[str, Mapping[str, Measured]]


def _p(m: Measured, q: float, ttfb: bool = False) -> float:
    return percentile(m.load.ttfb_ms if ttfb else m.load.latencies_ms, q)


def summarise(results: Results, rss_kib: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """Per variant: the figures the issue asks for, as plain numbers (NaN where not measured)."""
    out: dict[str, dict[str, Any]] = {}
    direct = results["direct"]
    for variant, points in results.items():
        row: dict[str, Any] = {"label": VARIANT_LABELS.get(variant, variant)}
        for name in ("c1", "c32"):
            for q in (50, 99):
                row[f"{name}_p{q}_ms"] = _p(points[name], q)
                row[f"{name}_added_p{q}_ms"] = _p(points[name], q) - _p(direct[name], q)
        c64 = points["c64"]
        row["c64_rps"] = c64.load.ok / c64.load.wall_s if c64.load.wall_s else math.nan
        row["c64_server_core_util"] = c64.server_cpu_s / c64.load.wall_s if c64.load.wall_s else math.nan
        row["c64_driver_core_util"] = c64.driver_cpu_s / c64.load.wall_s if c64.load.wall_s else math.nan
        stream = points["stream_c1"]
        row["stream_ttfb_p50_ms"] = _p(stream, 50, ttfb=True)
        row["stream_ttfb_added_p50_ms"] = row["stream_ttfb_p50_ms"] - _p(direct["stream_c1"], 50, ttfb=True)
        row["stream_total_p50_ms"] = _p(stream, 50)
        nonstream = [points[n] for n in NONSTREAM_POINTS]
        done = sum(m.load.ok for m in nonstream)
        row["cpu_ms_per_req"] = 1000 * sum(m.server_cpu_s for m in nonstream) / done if done else math.nan
        row["loop_cpu_ms_per_req"] = 1000 * sum(m.loop_cpu_s for m in nonstream) / done if done else math.nan
        row["worker_cpu_ms_per_req"] = (
            1000 * sum(m.worker_cpu_s for m in nonstream) / done if done else math.nan
        )
        row["c64_cpu_ms_per_req"] = 1000 * c64.server_cpu_s / c64.load.ok if c64.load.ok else math.nan
        row["c64_rps_per_core"] = 1000 / row["c64_cpu_ms_per_req"] if row["c64_cpu_ms_per_req"] else math.nan
        row["stream_cpu_ms_per_req"] = (
            1000 * stream.server_cpu_s / stream.load.ok if stream.load.ok else math.nan
        )
        row["peak_rss_mib"] = rss_kib.get(variant, 0) / 1024
        row["requests_ok"] = sum(m.load.ok for m in points.values())
        row["errors"] = sum(m.load.errors for m in points.values())
        row["error_samples"] = [s for m in points.values() for s in m.load.error_samples][:5]
        out[variant] = row
    return out


def _f(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def format_tables(summary: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [
        "Latency, non-streaming (ms; 'added' = variant minus direct at the same percentile)",
        f"{'variant':32} {'c1 p50':>8} {'p99':>7} {'+p50':>7} {'+p99':>7} "
        f"{'c32 p50':>8} {'p99':>7} {'+p50':>7} {'+p99':>7}",
    ]
    for row in summary.values():
        lines.append(
            f"{row['label']:32} {_f(row['c1_p50_ms']):>8} {_f(row['c1_p99_ms']):>7} "
            f"{_f(row['c1_added_p50_ms']):>7} {_f(row['c1_added_p99_ms']):>7} "
            f"{_f(row['c32_p50_ms']):>8} {_f(row['c32_p99_ms']):>7} "
            f"{_f(row['c32_added_p50_ms']):>7} {_f(row['c32_added_p99_ms']):>7}"
        )
    lines += [
        "",
        "Throughput, streaming, cost (server process only; CPU over the c1+c32+c64 requests)",
        f"{'variant':32} {'rps c64':>8} {'rps/core':>8} {'srv core':>8} {'drv core':>8} "
        f"{'TTFB p50':>8} {'+TTFB':>6} "
        f"{'CPU ms/req':>10} {'loop':>6} {'threads':>7} {'stream':>6} {'peak RSS MiB':>12}",
    ]
    for row in summary.values():
        lines.append(
            f"{row['label']:32} {_f(row['c64_rps'], 0):>8} {_f(row['c64_rps_per_core'], 0):>8} "
            f"{_f(row['c64_server_core_util'] * 100, 0):>7}% "
            f"{_f(row['c64_driver_core_util'] * 100, 0):>7}% {_f(row['stream_ttfb_p50_ms']):>8} "
            f"{_f(row['stream_ttfb_added_p50_ms']):>6} {_f(row['cpu_ms_per_req'], 3):>10} "
            f"{_f(row['loop_cpu_ms_per_req'], 3):>6} {_f(row['worker_cpu_ms_per_req'], 3):>7} "
            f"{_f(row['stream_cpu_ms_per_req'], 3):>6} {_f(row['peak_rss_mib'], 1):>12}"
        )
    lines += [
        "  rps/core: 1000 / (server CPU ms per request at c=64), the rate one fully busy core could serve.",
        "  srv core / drv core: CPU busy share of the server's core / of the load generator +",
        "  simulator at c=64 (near 100% on 'drv' means the driver, not the server, capped rps).",
        "  loop / threads: CPU ms per request on the event-loop thread / on worker threads (SQLite).",
    ]
    return "\n".join(lines)


def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def targets(
    summary: Mapping[str, Mapping[str, Any]], gateway: str = "gateway_off"
) -> list[tuple[bool | None, str]]:
    """The issue's three targets for ``gateway`` against the minimal relay."""
    gw, relay = summary[gateway], summary["relay"]
    checks: list[tuple[bool | None, str]] = []
    for point in ("c1", "c32"):
        g, r = gw[f"{point}_added_p50_ms"], relay[f"{point}_added_p50_ms"]
        ratio = g / r if r > 0 else math.nan
        ok = None if math.isnan(ratio) else ratio <= TARGET_ADDED_P50
        checks.append(
            (
                ok,
                f"added p50 at {point}: {_f(g)} ms vs relay {_f(r)} ms = {_f(ratio)}x "
                f"(target <= {TARGET_ADDED_P50}x)",
            )
        )
    share = gw["c64_rps"] / relay["c64_rps"] if relay["c64_rps"] else math.nan
    checks.append(
        (
            None if math.isnan(share) else share >= TARGET_RPS_SHARE,
            f"requests/s at c64: {_f(gw['c64_rps'], 0)} vs relay {_f(relay['c64_rps'], 0)} = "
            f"{_f(share * 100, 0)}% (target >= {TARGET_RPS_SHARE * 100:.0f}%)",
        )
    )
    cpu = gw["cpu_ms_per_req"] / relay["cpu_ms_per_req"] if relay["cpu_ms_per_req"] else math.nan
    checks.append(
        (
            None if math.isnan(cpu) else cpu <= TARGET_CPU_RATIO,
            f"CPU per request: {_f(gw['cpu_ms_per_req'], 3)} ms vs relay {_f(relay['cpu_ms_per_req'], 3)} ms"
            f" = {_f(cpu)}x (target <= {TARGET_CPU_RATIO}x)",
        )
    )
    return checks


def format_targets(summary: Mapping[str, Mapping[str, Any]]) -> str:
    lines = ["Targets (issue 2), gateway with compression off vs the minimal relay:"]
    lines += [f"  {_verdict(ok)}  {text}" for ok, text in targets(summary)]
    gw, relay = summary["gateway_off"], summary["relay"]
    if relay["c64_driver_core_util"] >= 0.9:
        share = gw["c64_rps_per_core"] / relay["c64_rps_per_core"] if relay["c64_rps_per_core"] else math.nan
        lines.append(
            f"  note: the relay's c64 rate was capped by the load-generator core "
            f"({_f(relay['c64_driver_core_util'] * 100, 0)}% busy), which flatters the requests/s share; "
            f"per core of server CPU the gateway serves {_f(share * 100, 0)}% of the relay's rate"
        )
    return "\n".join(lines)
