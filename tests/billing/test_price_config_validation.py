"""Price and fee settings are range-checked when they are loaded: a prices file entry, the default
prices and the fee percent. A bad value is a ``ValueError`` naming the entry (the class every
configuration error uses), so ``serve`` refuses to start and the CLI prints one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

from opencompress.billing import ModelPrice, load_price_table
from opencompress.cli import admin
from opencompress.config import MAX_PRICE_MICROS_PER_1M, Settings


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"input": 10**30, "output": 1}, "'input' must be an integer from 0 to"),
        ({"input": 1, "output": MAX_PRICE_MICROS_PER_1M + 1}, "'output' must be an integer"),
        ({"input": -2_500_000, "output": 1}, "'input' must be an integer"),
        ({"input": 1, "output": 2, "aliases": "gpt-5x"}, "'aliases' must be a list"),
        ({"input": 1, "output": 2, "aliases": ["ok", 5]}, "'aliases' must be a list"),
        ({"input": 1, "output": 2, "aliases": [""]}, "'aliases' must be a list"),
    ],
)
def test_bad_entries_are_refused_naming_the_model(
    tmp_path: Path, entry: dict[str, object], message: str
) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"models": {"house-model": entry}}))
    with pytest.raises(ValueError, match=message) as refused:
        load_price_table(override)
    assert "'house-model'" in str(refused.value)


def test_a_string_alias_does_not_create_one_model_per_character(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text('[models."house"]\ninput = 1\noutput = 2\naliases = "gpt-5"\n')
    with pytest.raises(ValueError, match="'house': 'aliases' must be a list"):
        load_price_table(override)


def test_the_price_bound_is_inclusive(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(f'[models."dear"]\ninput = 0\noutput = {MAX_PRICE_MICROS_PER_1M}\n')
    assert load_price_table(override).get("dear") == ModelPrice(
        input_micros_per_1m=0, output_micros_per_1m=MAX_PRICE_MICROS_PER_1M
    )


def load(tmp_path: Path, **env: str) -> Settings:
    named = {f"OPENCOMPRESS_{name.upper()}": value for name, value in env.items()}
    return Settings.load(env=named, config_file=str(tmp_path / "absent.toml"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("default_input_price", "-2500000"),
        ("default_output_price", "-1"),
        ("default_input_price", str(MAX_PRICE_MICROS_PER_1M + 1)),
        ("default_output_price", str(10**30)),
        ("fee_percent", "101"),
        ("fee_percent", "-5"),
        ("fee_percent", "20.5"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"OPENCOMPRESS_{name.upper()} must be"):
        load(tmp_path, **{name: value})


def test_edges_of_the_ranges_are_accepted(tmp_path: Path) -> None:
    top = str(MAX_PRICE_MICROS_PER_1M)
    settings = load(tmp_path, default_input_price="0", default_output_price=top, fee_percent="100")
    assert (settings.default_input_price, settings.default_output_price) == (0, MAX_PRICE_MICROS_PER_1M)
    assert load(tmp_path, fee_percent="0").fee_percent == 0


def test_toml_values_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "opencompress.toml"
    for text, variable in [
        ("fee_percent = 150\n", "opencompress.toml: fee_percent must"),  # named as the file's key
        ("fee_percent = 20.5\n", "opencompress.toml: fee_percent must"),  # not silently 20
        ("fee_percent = true\n", "opencompress.toml: fee_percent must"),  # not silently 1
        ("default_input_price = -1\n", "opencompress.toml: default_input_price must"),
    ]:
        config.write_text(text)
        with pytest.raises(ValueError, match=variable):
            Settings.load(env={}, config_file=str(config))


def test_replace_is_checked_too() -> None:
    with pytest.raises(ValueError, match="FEE_PERCENT"):
        Settings().replace(fee_percent=250)


def test_the_cli_prints_one_line(tmp_path: Path) -> None:
    app = typer.Typer()
    admin.register(app)
    env = {
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
        "OPENCOMPRESS_FEE_PERCENT": "150",
    }
    result = CliRunner().invoke(app, ["accounts", "list"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: OPENCOMPRESS_FEE_PERCENT must be an integer from 0 to 100, got 150"
    ]


def test_the_server_refuses_to_start_with_a_bad_prices_file(tmp_path: Path) -> None:
    from opencompress.http.app import create_app

    prices = tmp_path / "prices.toml"
    prices.write_text('[models."house"]\ninput = 1\noutput = 1_000_000_000_000_000_000_000_000_000\n')
    settings = load(tmp_path, database_url=f"sqlite:///{tmp_path / 'gw.db'}", prices_file=str(prices))
    settings = settings.replace(dev_mode=False, upstream_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="model 'house': 'output' must be an integer"):
        with TestClient(create_app(settings)):
            pass
