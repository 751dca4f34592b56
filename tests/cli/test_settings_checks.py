"""Every setting is checked when settings are built, not on the first request: a rate limit of 0
used to start fine and answer every chat request with a 500, a misspelt level ran ``balanced``
while ``/api/config`` reported the typo, a bad log level died in a traceback, and a typo in the
settings file or in a variable's name was ignored without a word."""

from __future__ import annotations

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
        ("shutdown_grace_s", "inf", "a number of at least 0"),
        ("upstream_connect_timeout_s", "inf", "a number greater than 0"),
        ("upstream_timeout_s", "Infinity", "a number greater than 0"),
        ("upstream_base_url", "api.openai.com/v1", "an http:// or https:// URL"),
        ("upstream_base_url", "ftp://example.com/v1", "an http:// or https:// URL"),
        ("upstream_base_url", "https:///v1", "an http:// or https:// URL"),
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


def test_upstream_urls_of_both_schemes_are_accepted(tmp_path: Path) -> None:
    for url in ("https://api.openai.com/v1", "http://127.0.0.1:8000/v1", " https://openrouter.ai/api/v1 "):
        assert _load(tmp_path, upstream_base_url=url).upstream_base_url == url.strip()


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


def test_a_bad_value_from_the_settings_file_is_named_as_its_key(tmp_path: Path) -> None:
    config = tmp_path / "opencompress.toml"
    config.write_text('port = "abc"\n')
    with pytest.raises(ValueError) as refused:
        Settings.load(env={}, config_file=str(config))
    assert str(refused.value) == f"{config}: port must be a whole number, got 'abc'"
    config.write_text("default_rpm = 0\n")
    with pytest.raises(ValueError, match=r"opencompress\.toml: default_rpm must be an integer of at least 1"):
        Settings.load(env={}, config_file=str(config))
    # the same value from the environment is still named as the variable
    with pytest.raises(ValueError, match="^OPENCOMPRESS_DEFAULT_RPM must be"):
        Settings.load(env={"OPENCOMPRESS_DEFAULT_RPM": "0"}, config_file=str(tmp_path / "absent.toml"))
