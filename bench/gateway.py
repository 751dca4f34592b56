"""Gateway overhead benchmark (issue 2): what does the gateway add on top of a bare relay?

In one run, against one upstream simulator process, four variants each served by their own
process on loopback:

1. ``direct``: the load generator talks to the simulator itself (the baseline);
2. ``relay``: the minimal pass-through relay in ``bench/relay.py`` → simulator;
3. ``gateway_off``: ``opencompress serve`` with compression off — full auth, rate limits (a
   key with very high limits), balance hold and ledger settle on SQLite → simulator;
4. ``gateway_balanced``: the same with compression ``balanced``.

For each: added latency p50/p99 vs direct at concurrency 1 and 32 (non-streaming, small prompt),
requests/s at concurrency 64, streaming time-to-first-byte p50, server CPU ms per request
(utime+stime from ``/proc``) and peak RSS (VmHWM), then PASS/FAIL lines for the issue's targets.
With two or more cores the servers under test are pinned to the first core, the load generator
and the simulator to the second, so CPU per request is work done on one core. Every point is split
into rounds that visit the variants in alternating order, so background load drifting during the
run hits all variants alike. After the run each gateway's ledger is checked: one usage row per
request sent and balance change = sum of charges (proves the measured path really billed).

Usage::

    python bench/gateway.py [--requests 2000] [--rounds 2] [--profile 1000] [--json out.json]
    python bench/gateway.py --quick          # seconds; what the CI smoke test runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _fleet import GATEWAY_LEVELS, Fleet, ledger_check, start_fleet  # noqa: E402
from _load import new_session, run_point  # noqa: E402
from _procs import ServerProc, thread_cpu_seconds  # noqa: E402
from _profile import profile_gateway  # noqa: E402
from _report import Measured, format_tables, format_targets, summarise  # noqa: E402
from opencompress.tokens import count_messages  # noqa: E402

VARIANTS = ("direct", "relay", "gateway_off", "gateway_balanced")
MODEL = "gpt-4o-mini"
WATCH = ("x-opencompress-compression", "x-opencompress-level")
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant.  Answer in one short paragraph."},
    {
        "role": "user",
        "content": "Given this order:\n"
        + json.dumps({"id": 4711, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}, indent=2)
        + "\n\nHow many items were ordered in total?",
    },
]


@dataclass(frozen=True)
class Point:
    name: str
    concurrency: int
    stream: bool


POINTS = (
    Point("c1", 1, False),
    Point("c32", 32, False),
    Point("c64", 64, False),
    Point("stream_c1", 1, True),
)


def request_body(stream: bool, max_tokens: int) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


# -- setup ------------------------------------------------------------------------------------------


def plan_cores(pin: bool) -> tuple[list[int] | None, list[int] | None]:
    """(server cores, driver cores): first core for servers under test, the rest for the driver."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return available[:1], available[1:]


# -- measurement ------------------------------------------------------------------------------------


def _loop_and_workers(server: ServerProc) -> tuple[float, float]:
    threads = thread_cpu_seconds(server.pid)
    loop = threads.pop(server.pid, 0.0)
    return loop, sum(threads.values())


async def measure(
    fleet: Fleet, variants: Sequence[str], args: argparse.Namespace
) -> tuple[dict[str, dict[str, Measured]], dict[str, int]]:
    """Warm every variant up, then run each point in rounds; returns results and requests sent."""
    results = {v: {p.name: Measured() for p in POINTS} for v in variants}
    sent = dict.fromkeys(variants, 0)
    async with new_session() as session:
        for variant in variants:  # connection pools, tokenizer load, SQLite page cache
            for stream in (False, True):
                body = request_body(stream, args.max_tokens)
                warm = await run_point(
                    session,
                    fleet.urls[variant],
                    body,
                    fleet.headers[variant],
                    requests=args.warmup,
                    concurrency=16,
                    stream=stream,
                    max_seconds=args.max_seconds,
                )
                sent[variant] += warm.sent
                if warm.errors:
                    raise RuntimeError(f"{variant} warm-up failed: {warm.error_samples}")
        per_round = max(1, args.requests // args.rounds)
        for point in POINTS:
            for round_no in range(args.rounds):
                order = list(variants) if round_no % 2 == 0 else list(reversed(variants))
                for variant in order:
                    measured = await measure_once(session, fleet, variant, point, per_round, args)
                    results[variant][point.name].add(measured)
                    sent[variant] += measured.load.sent
    return results, sent


async def measure_once(
    session: aiohttp.ClientSession,
    fleet: Fleet,
    variant: str,
    point: Point,
    requests: int,
    args: argparse.Namespace,
) -> Measured:
    server, sim = fleet.server_for(variant), fleet.servers["simulator"]
    driver = [] if variant == "direct" else [sim]  # what shares the driver core with this process

    def snapshot() -> tuple[float, float, float, float]:
        loop, workers = _loop_and_workers(server)
        return server.cpu(), loop, workers, _self_cpu() + sum(d.cpu() for d in driver)

    before = snapshot()
    load = await run_point(
        session,
        fleet.urls[variant],
        request_body(point.stream, args.max_tokens),
        fleet.headers[variant],
        requests=requests,
        concurrency=point.concurrency,
        stream=point.stream,
        max_seconds=args.max_seconds,
        watch_headers=WATCH if variant in GATEWAY_LEVELS else (),
    )
    after = snapshot()
    cpu, loop, workers, drv = (a - b for a, b in zip(after, before, strict=True))
    return Measured(load=load, server_cpu_s=cpu, loop_cpu_s=loop, worker_cpu_s=workers, driver_cpu_s=drv)


def _self_cpu() -> float:
    times = os.times()
    return times.user + times.system


def machine_busy_s() -> float:
    """CPU-seconds all processes on the machine were busy (first line of /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per variant and point")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per point, variant order alternating")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per variant first")
    parser.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every request")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound of one measured run")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers/driver to cores")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="afterwards, profile each gateway variant under cProfile for N requests",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument(
        "--tmpdir", type=Path, help="parent of the work directory (SQLite files); default: system temp"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, DBs)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: proves the bench works")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.warmup, args.max_seconds = 24, 1, 8, 20.0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown or "direct" not in variants:
        parser.error(f"--variants must include direct and be among {', '.join(VARIANTS)}")
    args.variant_list = [v for v in VARIANTS if v in variants]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server_cores, driver_cores = plan_cores(not args.no_pin)
    usable = sorted(os.sched_getaffinity(0))
    if driver_cores:
        os.sched_setaffinity(0, set(driver_cores))
    workdir = Path(tempfile.mkdtemp(prefix="oc-bench-gateway-", dir=args.tmpdir))
    try:
        return run(args, workdir, usable, server_cores, driver_cores)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run(
    args: argparse.Namespace,
    workdir: Path,
    usable: list[int],
    server_cores: list[int] | None,
    driver_cores: list[int] | None,
) -> int:
    pinning = (
        f"servers under test pinned to core {server_cores}, load generator + simulator to {driver_cores}"
        if server_cores
        else "no pinning"
    )
    print(f"cores: {os.cpu_count()} online, usable {usable}; {pinning}")
    print(f"load average at start: {_loadavg()}")
    print(
        f"prompt: {len(MESSAGES)} messages, {count_messages(MESSAGES)} o200k tokens, max_tokens "
        f"{args.max_tokens}; {args.requests} measured requests per variant and point in {args.rounds} "
        f"round(s) of alternating variant order; warm-up {args.warmup} + {args.warmup} streaming"
    )
    started, busy0, ours0 = time.monotonic(), machine_busy_s(), _self_cpu()
    fleet = start_fleet(workdir, args.variant_list, server_cores, driver_cores)
    try:
        results, sent = asyncio.run(measure(fleet, args.variant_list, args))
        ours1, busy1 = _self_cpu() + sum(s.cpu() for s in fleet.servers.values()), machine_busy_s()
        rss = {v: fleet.server_for(v).memory().get("VmHWM", 0) for v in args.variant_list}
    finally:
        fleet.stop()
    wall = time.monotonic() - started
    foreign = max(0.0, busy1 - busy0 - (ours1 - ours0))
    summary = summarise(results, rss)
    print()
    print(format_tables(summary))
    print()
    print(
        f"noise: other processes used ~{foreign:.1f} CPU-s during the {wall:.0f} s run "
        f"(~{foreign / wall * 100:.0f}% of one core); load average at end: {_loadavg()}"
    )
    exit_code = 0
    checks: dict[str, Any] = {}
    for variant, gw in fleet.gateways.items():
        check = asyncio.run(ledger_check(gw.db_url, gw.account_id, sent[variant]))
        seen = {h: sorted(v) for h, v in merged_headers(results[variant]).items()}
        check["headers"] = seen
        check["level_ok"] = seen.get("x-opencompress-level") == [GATEWAY_LEVELS[variant]]
        checks[variant] = check
        print(
            f"{variant}: ledger rows {check['rows']}/{check['expected']}, spent {check['spent_micros']} = "
            f"charged {check['charged_micros']} micro-USD, statuses {check['statuses']}, headers {seen}"
        )
        if not (check["ok"] and check["level_ok"]):
            print(f"  ERROR: {variant} did not bill every request, or ran at the wrong compression level")
            exit_code = 1
    errors = {v: row["errors"] for v, row in summary.items() if row["errors"]}
    if errors:
        print(f"ERROR: failed requests {errors}: {[summary[v]['error_samples'] for v in errors]}")
        exit_code = 1
    if {"relay", "gateway_off"} <= set(args.variant_list):
        print()
        print(format_targets(summary))
    profiles: dict[str, Any] = {}
    for variant in (v for v in args.variant_list if v in GATEWAY_LEVELS and args.profile):
        print()
        profiles[variant] = profile_gateway(
            workdir / f"profile-{variant}",
            variant,
            GATEWAY_LEVELS[variant],
            request_body(False, args.max_tokens),
            args.profile,
            server_cores,
            driver_cores,
        )
    if args.json:
        report = {
            "summary": summary,
            "checks": checks,
            "profiles": profiles,
            "noise_cpu_s": foreign,
            "wall_s": wall,
            "cores": usable,
            "args": {k: str(v) for k, v in vars(args).items()},
        }
        args.json.write_text(json.dumps(_finite(report), indent=2))
    return exit_code


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def merged_headers(points: dict[str, Measured]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for m in points.values():
        for name, values in m.load.headers_seen.items():
            merged.setdefault(name, set()).update(values)
    return merged


def _finite(value: Any) -> Any:
    """NaN → None, recursively, so the JSON file is strict JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
