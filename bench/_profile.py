"""Where the gateway's CPU goes: one gateway process under cProfile, driven at concurrency 1.

cProfile sees the event-loop thread only (the SQLite worker thread's own work shows up in the
benchmark's per-thread CPU split instead). Coroutine frames are timed only while they run, so a
coroutine's cumulative time is its on-CPU cost, not the time it spent awaiting. Figures are
µs per request *under the profiler* (which inflates call-heavy code): read them as shares.
"""

from __future__ import annotations

import asyncio
import os
import pstats
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _fleet import start_gateway, start_simulator
from _load import new_session, run_point

IDLE = ("method 'poll' of 'select.epoll'", "method 'select' of 'select.epoll'")
SHOWN = 22
# Call sites worth naming in the report: (label, substring of "file:line(function)").
HOT_SPOTS = (
    ("route handler (all of it)", "routes/chat.py", "(chat_completions)"),
    ("prepare_chat: auth+parse+limit+compress+hold", "gateway/chat.py", "(prepare_chat)"),
    ("authenticate (incl. SQLite key lookup)", "accounts/service.py", "(authenticate)"),
    ("parse_chat_request", "chat_request.py", "(parse_chat_request)"),
    ("run_compression (incl. token counts)", "compress_step.py", "(run_compression)"),
    ("count_messages (o200k)", "opencompress/tokens.py", "(count_messages)"),
    ("compress() pipeline", "compression/pipeline.py", "(compress)"),
    ("rate limiter acquire", "ratelimit/memory.py", "(acquire)"),
    ("storage reserve (SQLite, inline)", "storage/sqlite.py", "(reserve)"),
    ("storage settle (SQLite, inline)", "storage/sqlite.py", "(settle)"),
    ("settle_request", "gateway/settle.py", "(settle_request)"),
    ("open_upstream (aiohttp request)", "gateway/chat.py", "(open_upstream)"),
    ("complete_chat (read+rewrite body)", "gateway/chat.py", "(complete_chat)"),
    ("json.dumps (all)", "json/__init__.py", "(dumps)"),
    ("json.loads (all)", "json/__init__.py", "(loads)"),
    ("run_in_executor (thread hops left, loop side)", "base_events.py", "(run_in_executor)"),
    ("uvicorn h11 protocol: data_received", "h11_impl.py", "(data_received)"),
)


def _name(func: tuple[str, int, str]) -> str:
    filename, line, function = func
    if filename == "~":
        return function
    short = "/".join(Path(filename).parts[-2:])
    return f"{short}:{line}({function})"


def summarise_profile(path: Path, requests: int) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    rows = []
    busy = 0.0
    for func, (_cc, calls, tottime, cumtime, _callers) in table.items():
        name = _name(func)
        if any(idle in name for idle in IDLE):
            continue
        busy += tottime
        rows.append((name, calls, tottime, cumtime))
    per = 1e6 / max(1, requests)
    top = sorted(rows, key=lambda r: r[2], reverse=True)[:SHOWN]
    spots = []
    for label, where, function in HOT_SPOTS:
        matched = [r for r in rows if where in r[0] and r[0].endswith(function)]
        if matched:
            cum = max(r[3] for r in matched)
            spots.append({"what": label, "us_per_req": cum * per, "share": cum / busy if busy else 0.0})
    return {
        "requests": requests,
        "busy_us_per_req": busy * per,
        "top_tottime": [
            {"function": n, "calls_per_req": c / max(1, requests), "us_per_req": t * per}
            for n, c, t, _ in top
        ],
        "hot_spots": spots,
    }


def format_profile(variant: str, summary: dict[str, Any]) -> str:
    lines = [
        f"Profile of {variant} (cProfile, event-loop thread, {summary['requests']} requests at c=1; "
        f"{summary['busy_us_per_req']:.0f} µs busy per request under the profiler)",
        "  cumulative per call site:",
    ]
    for spot in summary["hot_spots"]:
        lines.append(f"    {spot['us_per_req']:8.0f} µs  {spot['share'] * 100:5.1f}%  {spot['what']}")
    lines.append("  top functions by own time:")
    for row in summary["top_tottime"]:
        lines.append(f"    {row['us_per_req']:8.1f} µs  {row['calls_per_req']:6.1f} calls  {row['function']}")
    return "\n".join(lines)


def profile_gateway(
    workdir: Path,
    variant: str,
    level: str,
    body: bytes,
    requests: int,
    server_cores: Sequence[int] | None,
    driver_cores: Sequence[int] | None,
) -> dict[str, Any]:
    """Warm a gateway up, profile ``requests`` non-streaming requests at c=1; print and return a summary."""
    out = workdir / "gateway.prof"
    sim = start_simulator(workdir, driver_cores)
    try:
        sim.wait_ready()
        gw = start_gateway(workdir / "gw", variant, level, sim.base_url, server_cores, profile_out=out)
        try:
            gw.server.wait_ready()
            url = gw.server.base_url + "/chat/completions"
            headers = {"Authorization": f"Bearer {gw.key}", "Content-Type": "application/json"}

            async def drive(count: int) -> None:
                async with new_session() as session:
                    result = await run_point(
                        session,
                        url,
                        body,
                        headers,
                        requests=count,
                        concurrency=1,
                        stream=False,
                        max_seconds=300,
                    )
                if result.errors:
                    raise RuntimeError(f"profiled gateway failed: {result.error_samples}")

            asyncio.run(drive(100))  # warm-up: tokenizer, SQLite cache, connection pool
            os.kill(gw.server.pid, signal.SIGUSR1)
            asyncio.run(drive(requests))
            os.kill(gw.server.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not out.is_file() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            gw.server.stop()
    finally:
        sim.stop()
    if not out.is_file():
        raise RuntimeError(f"the profiled gateway wrote no {out}:\n{gw.server.log_tail()}")
    summary = summarise_profile(out, requests)
    print(format_profile(variant, summary))
    return summary
