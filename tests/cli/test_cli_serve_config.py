"""``opencompress serve`` refuses bad settings (money, limits, levels, URLs, secrets) with one line,
before anything starts, and warns about a variable that looks like a misspelt setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "OPENCOMPRESS_PORT": "1",  # never bound: the process must stop before it listens
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "from opencompress.cli import app; app()", "serve", *args],
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
        ({"OPENCOMPRESS_DEFAULT_RPM": "0"}, "OPENCOMPRESS_DEFAULT_RPM"),
        ({"OPENCOMPRESS_LOG_LEVEL": "verbose"}, "OPENCOMPRESS_LOG_LEVEL"),
        (
            {"OPENCOMPRESS_REDIS_URL": "user:secret@cache:6379"},
            "OPENCOMPRESS_REDIS_URL must start with redis://",
        ),
        ({"OPENCOMPRESS_SECRET_KEY": "not base64!"}, "OPENCOMPRESS_SECRET_KEY"),
        ({"OPENCOMPRESS_DATABASE_URL": "mysql://db/x"}, "unsupported database URL scheme"),
    ],
    ids=[
        "fee",
        "default_price",
        "prices_file",
        "rpm",
        "log_level",
        "redis_url",
        "secret_key",
        "database_url",
    ],
)
def test_a_bad_setting_stops_serve_with_one_line_before_it_creates_anything(
    tmp_path: Path, setting: dict[str, str] | str, named: str
) -> None:
    if setting == "prices":
        prices = tmp_path / "prices.toml"
        prices.write_text('[models."x"]\ninput = -5\noutput = 1\n')
        setting = {"OPENCOMPRESS_PRICES_FILE": str(prices)}
    assert isinstance(setting, dict)
    done = _serve(tmp_path, **setting)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "secret" not in done.stderr.lower().replace("opencompress_secret_key", "")
    assert not (tmp_path / "never.db").exists()
    assert "demo" not in done.stdout.lower()


def test_serve_warns_about_a_misspelt_variable(tmp_path: Path) -> None:
    done = _serve(tmp_path, OPENCOMPRESS_DEFAULT_RMP="5", OPENCOMPRESS_FEE_PERCENT="101")
    lines = done.stderr.strip().splitlines()
    assert lines[0] == (
        "warning: OPENCOMPRESS_DEFAULT_RMP is not a setting "
        "(did you mean OPENCOMPRESS_DEFAULT_RPM?); it is ignored"
    )
    assert lines[1].startswith("error: OPENCOMPRESS_FEE_PERCENT")


def test_a_port_flag_out_of_range_is_one_line_too(tmp_path: Path) -> None:
    for port in ("70000", "0"):
        done = _serve(tmp_path, "--port", port)
        assert done.returncode == 1, done.stderr
        assert done.stderr == f"error: --port must be an integer from 1 to 65535, got {port}\n", done.stderr


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    """It used to be a traceback from the app's startup, then "Application startup failed"."""
    done = _serve(tmp_path, OPENCOMPRESS_DATABASE_URL="postgresql://occ:hunter2secret@127.0.0.1:1/occ")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: the database cannot be used: "), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "hunter2secret" not in done.stderr + done.stdout
