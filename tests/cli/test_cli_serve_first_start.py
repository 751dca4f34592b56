"""What ``opencompress serve`` prints on a first start with an empty database (README command 1):
the demo key once, the simulator banner when there is no upstream, each uvicorn lifecycle line
once, and a warning when the demo key would spend a real upstream's credit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from support.server import free_port

REAL_CREDIT = "spends real provider credit"


def _first_start(tmp_path: Path, **env: str) -> str:
    """Start serve on an empty database, wait until it answers, stop it; its terminal output."""
    port = free_port()
    full_env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'first.db'}",
        "OPENCOMPRESS_PORT": str(port),
        "OPENCOMPRESS_DEV_MODE": "true",
        "OPENCOMPRESS_LOG_FORMAT": "text",
        **env,
    }
    cmd = [sys.executable, "-c", "from opencompress.cli import app; app()", "serve"]
    proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    return out


def test_first_start_on_the_simulator(tmp_path: Path) -> None:
    out = _first_start(tmp_path, OPENCOMPRESS_UPSTREAM_BASE_URL="")
    assert len([w for w in out.split() if w.startswith("sk-occ-")]) == 1
    assert out.count("BUILT-IN UPSTREAM SIMULATOR") == 1
    for line in ("Started server process", "Application startup complete", "Finished server process"):
        assert out.count(line) == 1, (line, out)
    assert REAL_CREDIT not in out


def test_first_start_with_an_upstream_warns_that_the_demo_key_spends_real_credit(
    simulator: Any, tmp_path: Path
) -> None:
    out = _first_start(
        tmp_path,
        OPENCOMPRESS_UPSTREAM_BASE_URL=simulator.base_url,
        OPENCOMPRESS_UPSTREAM_API_KEY="sk-operator-upstream-0b7f",
        OPENCOMPRESS_ALLOW_PRIVATE_UPSTREAMS="true",
    )
    assert len([w for w in out.split() if w.startswith("sk-occ-")]) == 1
    assert REAL_CREDIT in out and "BUILT-IN UPSTREAM SIMULATOR" not in out


def test_no_demo_account_without_dev_mode(tmp_path: Path) -> None:
    out = _first_start(tmp_path, OPENCOMPRESS_UPSTREAM_BASE_URL="", OPENCOMPRESS_DEV_MODE="false")
    assert "sk-occ-" not in out and "demo account" not in out
