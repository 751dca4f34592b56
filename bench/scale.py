"""Scale-out benchmark (issue 4): one vs two gateway replicas on PostgreSQL + Redis, and 1,000 open streams.

Processes on loopback: one upstream simulator, two ``opencompress serve`` replicas sharing one
PostgreSQL database (accounts, holds, usage, ledger) and one Redis (global rate limits and
concurrency leases), and this script as the load generator (aiohttp, closed loop). Unless
``--database-url``/``--redis-url`` are given, throwaway servers are started from the Debian
packages exactly as the test suite does (tests/support/services.py).

Measured:

1. non-streaming requests at concurrency 64 (``--concurrency``): straight to the simulator (the
   baseline), through replica A alone, and split across A and B (32 workers each): requests/s,
   p50/p99 latency and the latency *added* over the baseline, plus each replica's CPU per request.
   Rounds alternate the order of the three so drifting background load hits all alike.
2. ``--streams`` (1,000) streaming requests held open at once on replica A (the simulator pauses
   each stream after its first chunks for ``--hold-s``): time until every stream had its first
   byte, the ``opencompress_active_streams`` gauge at the plateau, and A's resident memory before,
   at the plateau and after, i.e. the memory cost of one open stream.

Afterwards the ledger is checked: one ``ok`` usage row per request sent, balance change = the sum
of the charges (the measured path really authenticated, limited, held and billed every request).

Usage::

    python bench/scale.py [--requests 3000] [--rounds 2] [--streams 1000] [--json out.json]
    python bench/scale.py --quick        # small counts: proves the script works
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))

from _fleet import UPSTREAM_HEADERS, gateway_env, ledger_check, seed_gateway_db, start_simulator  # noqa: E402
from _load import PointResult, new_session, percentile, run_point  # noqa: E402
from _procs import ServerProc, free_port, gateway_argv, spawn  # noqa: E402

MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "List three reasons to run more than one gateway replica."},
]
VARIANTS = ("direct", "one_replica", "two_replicas")
LABELS = {"direct": "simulator direct", "one_replica": "1 replica", "two_replicas": "2 replicas"}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per variant")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, variant order alternating")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured requests per replica first")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=16, help="max_tokens of every request")
    parser.add_argument("--streams", type=int, default=1000, help="streams held open at once on one replica")
    parser.add_argument("--hold-s", type=float, default=15.0, help="how long the simulator holds each stream")
    parser.add_argument("--level", default="balanced", help="the replicas' compression level")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="time bound of one measured run")
    parser.add_argument("--database-url", default="", help="use this PostgreSQL database (must be empty)")
    parser.add_argument("--redis-url", default="", help="use this Redis")
    parser.add_argument("--pool-max-size", type=int, default=32, help="PostgreSQL pool size per replica")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: proves the bench works")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.warmup, args.streams, args.hold_s = 120, 1, 20, 50, 2.0
    return args


def body(*, stream: bool, max_tokens: int, simulate: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": max_tokens,
        "stream": stream,
    }
    if simulate:
        payload["simulate"] = simulate
    return json.dumps(payload).encode()


@contextlib.contextmanager
def backing_services(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    """(database URL, Redis URL): the given ones, or throwaway local servers."""
    with contextlib.ExitStack() as stack:
        db, redis_url = args.database_url, args.redis_url
        if not db or not redis_url:
            from support.services import postgres_server, redis_server

            if not db:
                db = stack.enter_context(postgres_server()).create_database("scale")
            if not redis_url:
                redis_url = stack.enter_context(redis_server()).url
        sep = "&" if "?" in db else "?"
        yield f"{db}{sep}pool_max_size={args.pool_max_size}", redis_url


def start_replica(name: str, workdir: Path, db: str, redis_url: str, upstream: str, level: str) -> ServerProc:
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    env = gateway_env(home, db, upstream, level)
    env["OPENCOMPRESS_REDIS_URL"] = redis_url
    port = free_port()
    return spawn(name, gateway_argv(port), port=port, workdir=home, env=env)


async def measure_point(
    urls: list[str], headers: dict[str, str], payload: bytes, *, requests: int, concurrency: int, max_s: float
) -> PointResult:
    """``concurrency`` workers split evenly over ``urls``; one merged result."""
    share = len(urls)
    async with new_session(concurrency + 8) as session:
        parts = await asyncio.gather(
            *(
                run_point(
                    session,
                    url + "/chat/completions",
                    payload,
                    headers,
                    requests=requests // share,
                    concurrency=concurrency // share,
                    stream=False,
                    max_seconds=max_s,
                )
                for url in urls
            )
        )
    merged = PointResult()
    for part in parts:
        wall = merged.wall_s
        merged.merge(part)
        merged.wall_s = max(wall, part.wall_s)  # the parts ran side by side
    return merged


def measure_throughput(
    args: argparse.Namespace, sim: ServerProc, a: ServerProc, b: ServerProc, key: str
) -> tuple[dict[str, dict[str, Any]], int]:
    gateway_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    payload = body(stream=False, max_tokens=args.max_tokens)
    targets = {
        "direct": ([sim.base_url], UPSTREAM_HEADERS, []),
        "one_replica": ([a.base_url], gateway_headers, [a]),
        "two_replicas": ([a.base_url, b.base_url], gateway_headers, [a, b]),
    }
    for replica in (a, b):
        asyncio.run(
            measure_point(
                [replica.base_url], gateway_headers, payload, requests=args.warmup, concurrency=16, max_s=60
            )
        )
    sent = 2 * args.warmup
    results = {v: PointResult() for v in VARIANTS}
    cpu = dict.fromkeys(VARIANTS, 0.0)
    loop_cpu = dict.fromkeys(VARIANTS, 0.0)
    per_round = max(1, args.requests // args.rounds)
    for round_no in range(args.rounds):
        order = VARIANTS if round_no % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            urls, headers, servers = targets[variant]
            before = sum(s.cpu() for s in servers)
            loop_before = sum(s.threads().get(s.pid, 0.0) for s in servers)
            result = asyncio.run(
                measure_point(
                    urls,
                    headers,
                    payload,
                    requests=per_round,
                    concurrency=args.concurrency,
                    max_s=args.max_seconds,
                )
            )
            cpu[variant] += sum(s.cpu() for s in servers) - before
            loop_cpu[variant] += sum(s.threads().get(s.pid, 0.0) for s in servers) - loop_before
            wall = results[variant].wall_s
            results[variant].merge(result)
            results[variant].wall_s = wall + result.wall_s
            if variant != "direct":
                sent += result.sent
    base = results["direct"].latencies_ms
    table: dict[str, dict[str, Any]] = {}
    for variant, r in results.items():
        lat = r.latencies_ms

        def per_request(
            seconds: float, r: PointResult = r, gateway: bool = variant != "direct"
        ) -> float | None:
            return seconds * 1000 / r.ok if r.ok and gateway else None

        table[variant] = {
            "ok": r.ok,
            "errors": r.errors,
            "error_samples": r.error_samples,
            "rps": r.ok / r.wall_s if r.wall_s else float("nan"),
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "added_p50_ms": percentile(lat, 50) - percentile(base, 50),
            "added_p99_ms": percentile(lat, 99) - percentile(base, 99),
            "gateway_cpu_ms_per_request": per_request(cpu[variant]),
            "gateway_loop_cpu_ms_per_request": per_request(loop_cpu[variant]),
        }
    return table, sent


async def _active_streams(url: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("opencompress_active_streams "):
                return float(line.split()[1])
    return float("nan")


async def hold_streams(args: argparse.Namespace, replica: ServerProc, key: str) -> dict[str, Any]:
    """Open ``args.streams`` streams at once on one replica, hold them, read them to the end."""
    payload = body(
        stream=True,
        max_tokens=8,
        simulate={"fault": "hang_after", "after_chunks": 2, "delay_s": args.hold_s},
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    all_started = asyncio.Event()
    first_bytes = 0
    outcome = {"done": 0, "errors": 0, "samples": []}
    rss_idle = replica.memory().get("VmRSS", 0)
    connector = aiohttp.TCPConnector(limit=args.streams + 8, force_close=True)
    timeout = aiohttp.ClientTimeout(total=args.hold_s + 120, connect=60)
    t0 = time.perf_counter()
    opened_in = float("nan")

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal first_bytes, opened_in
        try:
            async with session.post(
                replica.base_url + "/chat/completions", data=payload, headers=headers
            ) as r:
                text = b""
                async for chunk in r.content.iter_any():
                    if not text:
                        first_bytes += 1
                        if first_bytes == args.streams:
                            opened_in = time.perf_counter() - t0
                            all_started.set()
                    text += chunk
                if r.status == 200 and text.rstrip().endswith(b"data: [DONE]"):
                    outcome["done"] += 1
                else:
                    raise RuntimeError(f"HTTP {r.status}: {text[-200:]!r}")
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            outcome["errors"] += 1
            if len(outcome["samples"]) < 5:
                outcome["samples"].append(f"{type(exc).__name__}: {exc}")

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
        tasks = [asyncio.ensure_future(one(session)) for _ in range(args.streams)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_started.wait(), timeout=args.hold_s * 0.9)
        await asyncio.sleep(min(1.0, args.hold_s / 10))
        gauge = await _active_streams(replica.url)
        rss_open = replica.memory().get("VmRSS", 0)
        await asyncio.gather(*tasks)
    total_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_after = replica.memory().get("VmRSS", 0)
    return {
        "streams": args.streams,
        "first_bytes": first_bytes,
        "all_open_after_s": opened_in,
        "active_streams_gauge": gauge,
        "completed_with_done": outcome["done"],
        "errors": outcome["errors"],
        "error_samples": outcome["samples"],
        "rss_idle_kib": rss_idle,
        "rss_open_kib": rss_open,
        "rss_after_kib": rss_after,
        "kib_per_open_stream": (rss_open - rss_idle) / args.streams,
        "peak_rss_kib": replica.memory().get("VmHWM", 0),
        "total_s": total_s,
    }


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.{digits}f}"
    return str(value)


def report(table: dict[str, dict[str, Any]], streams: dict[str, Any]) -> str:
    head = (
        f"{'point (c=64, non-streaming)':<28}{'ok':>7}{'err':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'added p50':>11}{'added p99':>11}{'gw CPU ms/req':>15}{'(loop)':>8}"
    )
    lines = [head, "-" * len(head)]
    for variant, row in table.items():
        added = variant != "direct"
        lines.append(
            f"{LABELS[variant]:<28}{row['ok']:>7}{row['errors']:>5}{_f(row['rps'], 0):>9}"
            f"{_f(row['p50_ms']):>9}{_f(row['p99_ms']):>9}"
            f"{_f(row['added_p50_ms'] if added else None):>11}"
            f"{_f(row['added_p99_ms'] if added else None):>11}"
            f"{_f(row['gateway_cpu_ms_per_request'], 2):>15}"
            f"{_f(row['gateway_loop_cpu_ms_per_request'], 2):>8}"
        )
    one, two = table["one_replica"]["rps"], table["two_replicas"]["rps"]
    lines.append(f"2 replicas / 1 replica throughput: {two / one:.2f}x")
    lines.append("")
    lines.append(
        f"{streams['streams']} streams held open on one replica: all first bytes after "
        f"{_f(streams['all_open_after_s'], 2)} s ({streams['first_bytes']} of {streams['streams']}), "
        f"active_streams gauge {_f(streams['active_streams_gauge'], 0)}, completed with [DONE] "
        f"{streams['completed_with_done']}, errors {streams['errors']}"
    )
    lines.append(
        f"replica RSS: idle {streams['rss_idle_kib'] / 1024:.1f} MiB -> {streams['streams']} open "
        f"{streams['rss_open_kib'] / 1024:.1f} MiB "
        f"({streams['kib_per_open_stream']:.1f} KiB per open stream) "
        f"-> after {streams['rss_after_kib'] / 1024:.1f} MiB; peak {streams['peak_rss_kib'] / 1024:.1f} MiB"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * args.streams + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # children inherit it
    workdir = Path(tempfile.mkdtemp(prefix="occ-scale-"))
    print(
        f"cores: {os.cpu_count()} online "
        "(no pinning: replicas, PostgreSQL, Redis, simulator and load share them)"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    servers: list[ServerProc] = []
    exit_code = 0
    try:
        with backing_services(args) as (db, redis_url):
            account_id, key = asyncio.run(seed_gateway_db(db))
            sim = start_simulator(workdir, None)
            servers.append(sim)
            sim.wait_ready()
            a = start_replica("replica_a", workdir, db, redis_url, sim.base_url, args.level)
            b = start_replica("replica_b", workdir, db, redis_url, sim.base_url, args.level)
            servers += [a, b]
            a.wait_ready()
            b.wait_ready()
            print(
                f"{args.requests} measured requests per point in {args.rounds} round(s), concurrency "
                f"{args.concurrency}, max_tokens {args.max_tokens}, compression {args.level}; "
                f"PostgreSQL pool {args.pool_max_size} per replica; Redis rate limiter"
            )
            started = time.monotonic()
            table, sent = measure_throughput(args, sim, a, b, key)
            streams = asyncio.run(hold_streams(args, a, key))
            sent += args.streams
            wall = time.monotonic() - started
            for server in (a, b):
                server.stop()
            check = asyncio.run(ledger_check(db, account_id, sent))
            print()
            print(report(table, streams))
            print()
            print(
                f"ledger: {check['rows']}/{check['expected']} usage rows, spent {check['spent_micros']} = "
                f"charged {check['charged_micros']} micro-USD, statuses {check['statuses']}; "
                f"measured for {wall:.0f} s; "
                f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )
            failed = [v for v, row in table.items() if row["errors"]]
            if failed or streams["errors"] or not check["ok"]:
                print(f"ERROR: failed requests in {failed or 'streams'} or ledger mismatch")
                for v in failed:
                    print(f"  {v}: {table[v]['error_samples']}")
                if streams["errors"]:
                    print(f"  streams: {streams['error_samples']}")
                exit_code = 1
            if args.json:
                args.json.write_text(
                    json.dumps(
                        {"throughput": table, "streams": streams, "ledger": check}, indent=2, default=str
                    )
                )
    finally:
        for server in reversed(servers):
            server.stop()
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
