"""Every setting is checked when settings are built, not on the first request: a rate limit of 0
used to start fine and answer every chat request with a 500, a misspelt level ran ``balanced``
while ``/api/config`` reported the typo, a bad log level died in a traceback, and a typo in the
settings file or in a variable's name was ignored without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opencompress.compression import LEVELS
from opencompress.config import LEVELS as CONFIG_LEVELS
from opencompress.config import Settings


def _load(tmp_path: Path, **values: str) -> Settings:
    env = {f"OPENCOMPRESS_{name.upper()}": value for name, value in values.items()}
    return Settings.load(env=env, config_file=str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("default_rpm", "0", "an integer of at least 1"),
        ("default_concurrency", "-3", "an integer of at least 1"),
        ("max_body_bytes", "0", "an integer of at least 1"),
        ("session_ttl_s", "0", "an integer of at least 1"),
        ("port", "70000", "an integer from 1 to 65535"),
        ("upstream_timeout_s", "0", "a number greater than 0"),
        ("upstream_connect_timeout_s", "-1", "a number greater than 0"),
        ("ratelimit_lease_s", "0", "a number greater than 0"),
        ("shutdown_grace_s", "-1", "a number of at least 0"),
        ("session_max_lifetime_s", "-1", "an integer of at least 0"),
        ("low_balance_threshold_micros", "-1", "an integer of at least 0"),
        ("compression_level", "max", "one of off, lossless, balanced, aggressive"),
        ("log_level", "verbose", "one of debug, info, warning, error, critical"),
        ("log_format", "xml", "one of json, text"),
    ],
)
def test_a_value_that_would_break_later_is_refused_naming_the_variable(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        _load(tmp_path, **{name: value})
    assert str(refused.value).startswith(f"OPENCOMPRESS_{name.upper()} must be {says}, got ")


def test_edges_are_accepted_and_choices_normalised(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        default_rpm="1",
        default_concurrency="1",
        port="65535",
        shutdown_grace_s="0",
        session_max_lifetime_s="0",
        compression_level=" Aggressive ",
        log_level="WARNING",
        log_format="Text",
    )
    assert (settings.default_rpm, settings.default_concurrency, settings.port) == (1, 1, 65535)
    assert (settings.compression_level, settings.log_level, settings.log_format) == (
        "aggressive",
        "warning",
        "text",
    )


def test_the_levels_are_the_engines() -> None:
    assert CONFIG_LEVELS == LEVELS


def test_a_key_in_the_settings_file_that_is_no_setting_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "opencompress.toml"
    config.write_text("prot = 9000\n")
    with pytest.raises(ValueError, match=r"'prot' is not a setting \(did you mean port\?\)"):
        Settings.load(env={}, config_file=str(config))
    config.write_text("port = 9000\nlog_level = 'debug'\n")
    assert Settings.load(env={}, config_file=str(config)).port == 9000
    config.write_text("port = \n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        Settings.load(env={}, config_file=str(config))


def test_warnings_name_a_missing_settings_file_and_misspelt_variables(tmp_path: Path) -> None:
    env = {
        "OPENCOMPRESS_CONFIG": str(tmp_path / "nope.toml"),
        "OPENCOMPRESS_PROT": "9000",
        "OPENCOMPRESS_DEFAULT_RPM": "30",
        "OPENCOMPRESS_SOMETHING_ELSE": "x",  # tooling around the gateway: no lookalike, no warning
    }
    assert Settings.warnings(env) == [
        f"OPENCOMPRESS_CONFIG names {str(tmp_path / 'nope.toml')!r}, which is not a file: "
        "no settings file is read",
        "OPENCOMPRESS_PROT is not a setting (did you mean OPENCOMPRESS_PORT?); it is ignored",
    ]
    (tmp_path / "nope.toml").write_text("")
    assert Settings.warnings({"OPENCOMPRESS_CONFIG": str(tmp_path / "nope.toml")}) == []


def _empty_file(tmp_path: Path) -> Path:
    """A settings file that sets nothing (a stray ./opencompress.toml must not leak in)."""
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "OPENCOMPRESS_CONFIG": str(_empty_file(tmp_path)),
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
        ({"OPENCOMPRESS_DEFAULT_RPM": "0"}, "OPENCOMPRESS_DEFAULT_RPM"),
        ({"OPENCOMPRESS_LOG_LEVEL": "verbose"}, "OPENCOMPRESS_LOG_LEVEL"),
        (
            {"OPENCOMPRESS_REDIS_URL": "user:secret@cache:6379"},
            "OPENCOMPRESS_REDIS_URL must start with redis://",
        ),
        ({"OPENCOMPRESS_SECRET_KEY": "not base64!"}, "OPENCOMPRESS_SECRET_KEY"),
        ({"OPENCOMPRESS_DATABASE_URL": "mysql://db/x"}, "unsupported database URL scheme"),
    ],
    ids=["rpm", "log_level", "redis_url", "secret_key", "database_url"],
)
def test_serve_stops_with_one_line_before_it_creates_anything(
    tmp_path: Path, setting: dict[str, str], named: str
) -> None:
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
