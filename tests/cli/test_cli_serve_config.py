"""``opencompress serve`` refuses bad money settings with one line, before anything starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "OPENCOMPRESS_PORT": "1",  # never bound: the process must stop before it listens
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "from opencompress.cli import app; app()", "serve"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"OPENCOMPRESS_FEE_PERCENT": "120"}, "OPENCOMPRESS_FEE_PERCENT"),
        ({"OPENCOMPRESS_DEFAULT_INPUT_PRICE": "-2500000"}, "OPENCOMPRESS_DEFAULT_INPUT_PRICE"),
        ("prices", "'input'"),
    ],
    ids=["fee", "default_price", "prices_file"],
)
def test_bad_money_settings_stop_serve_with_one_line(
    tmp_path: Path, setting: dict[str, str] | str, named: str
) -> None:
    if setting == "prices":
        prices = tmp_path / "prices.toml"
        prices.write_text('[models."x"]\ninput = -5\noutput = 1\n')
        setting = {"OPENCOMPRESS_PRICES_FILE": str(prices)}
    assert isinstance(setting, dict)
    done = _serve(tmp_path, **setting)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "never.db").exists()
