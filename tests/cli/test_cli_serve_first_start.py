"""What ``opencompress serve`` prints on a first start with an empty database (README command 1):
the demo key once, the simulator banner when there is no upstream, each uvicorn lifecycle line
once, and a warning when the demo key would spend a real upstream's credit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.serve_process import GatewayProcess

REAL_CREDIT = "spends real provider credit"


def _first_start(tmp_path: Path, **settings: str) -> str:
    """Start serve on an empty database, wait until it answers, stop it; its terminal output."""
    first = {"database_url": f"sqlite:///{tmp_path / 'first.db'}", "dev_mode": "true", "log_format": "text"}
    gw = GatewayProcess(tmp_path, **{**first, **settings})
    try:
        gw.start()
    finally:
        gw.stop()
    return gw.log()


def test_first_start_on_the_simulator(tmp_path: Path) -> None:
    out = _first_start(tmp_path, upstream_base_url="")
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
        upstream_base_url=simulator.base_url,
        upstream_api_key="sk-operator-upstream-0b7f",
        allow_private_upstreams="true",
    )
    assert len([w for w in out.split() if w.startswith("sk-occ-")]) == 1
    assert REAL_CREDIT in out and "BUILT-IN UPSTREAM SIMULATOR" not in out


def test_no_demo_account_without_dev_mode(tmp_path: Path) -> None:
    out = _first_start(tmp_path, upstream_base_url="", dev_mode="false")
    assert "sk-occ-" not in out and "demo account" not in out
