"""The shipped price table, tolerant lookup, unknown models and operator overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opencompress.billing import ModelPrice, PriceTable, load_price_table
from opencompress.config import Settings
from opencompress.errors import InvalidRequestError


def price(inp: int, out: int) -> ModelPrice:
    return ModelPrice(input_micros_per_1m=inp, output_micros_per_1m=out)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", price(2_500_000, 10_000_000)),
        ("gpt-4o-mini", price(150_000, 600_000)),
        ("gpt-4.1", price(2_000_000, 8_000_000)),
        ("gpt-4.1-mini", price(400_000, 1_600_000)),
        ("gpt-4.1-nano", price(100_000, 400_000)),
        ("o3", price(2_000_000, 8_000_000)),
        ("o4-mini", price(1_100_000, 4_400_000)),
        ("gpt-3.5-turbo", price(500_000, 1_500_000)),
        ("claude-sonnet-4", price(3_000_000, 15_000_000)),
        ("llama-3.1-70b", price(590_000, 790_000)),
        ("gpt-5.1", price(1_250_000, 10_000_000)),
        # Opus 4.5 and later cost a third of Opus 4/4.1: one "claude-opus-4*" price would overcharge 3x
        ("claude-opus-4-5-20251101", price(5_000_000, 25_000_000)),
        ("anthropic/claude-opus-4.6", price(5_000_000, 25_000_000)),
        ("claude-opus-4-1", price(15_000_000, 75_000_000)),
    ],
)
def test_shipped_prices(model: str, expected: ModelPrice) -> None:
    assert load_price_table().get(model) == expected


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("GPT-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("openai/gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4.1-2025-04-14", "gpt-4.1"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("meta/llama-3.1-8b-instruct:free", "llama-3.1-8b"),  # other :tags are not stripped
        ("meta-llama/llama-3.1-70b-instruct", "llama-3.1-70b"),
        ("llama-3.1-70b-versatile", "llama-3.1-70b"),
        ("gpt-4-0613", "gpt-4"),
        ("chatgpt-4o-latest", "chatgpt-4o-latest"),  # twice gpt-4o's price: its own entry
        ("openai/gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),  # the dearer snapshot, not gpt-4o
        ("gemma2-9b-it", "gemma2-9b-it"),
    ],
)
def test_lookup_tolerates_prefixes_suffixes_and_aliases(spelling: str, canonical: str) -> None:
    assert load_price_table().canonical(spelling) == canonical


@pytest.mark.parametrize("model", ["gpt-4o-audio-preview", "my-finetune", "", "gpt-4o-mini-2"])
def test_no_guessing_by_prefix(model: str) -> None:
    assert load_price_table().get(model) is None


def test_unknown_model_gets_default_or_400() -> None:
    fallback = price(1, 2)
    assert load_price_table(default=fallback).lookup("my-finetune") == fallback
    assert load_price_table(default=fallback).lookup("gpt-4o") == price(2_500_000, 10_000_000)
    with pytest.raises(InvalidRequestError) as caught:
        load_price_table(default=None).lookup("my-finetune")
    assert caught.value.param == "model" and caught.value.status == 400


def test_toml_override_merges_field_by_field(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(
        '[models."gpt-4o"]\noutput = 9_000_000\n\n'
        '[models."my-finetune"]\ninput = 7\noutput = 8\naliases = ["ft"]\n'
    )
    table = load_price_table(override)
    assert table.get("gpt-4o") == price(2_500_000, 9_000_000)
    assert table.get("openai/my-finetune") == price(7, 8)
    assert table.get("ft") == price(7, 8)
    assert table.get("gpt-4o-mini") == price(150_000, 600_000)  # untouched
    assert "my-finetune" in table.models()


def test_json_override(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"models": {"GPT-4.1": {"input": 1, "output": 2}}}))
    assert load_price_table(override).get("gpt-4.1-2025-04-14") == price(1, 2)


@pytest.mark.parametrize(
    "text",
    [
        '[models."x"]\ninput = 1\n',  # new model without an output price
        '[models."gpt-4o"]\ninput = -1\n',
        '[models."gpt-4o"]\ninput = 2.5\n',
        '[models."gpt-4o"]\ninput = true\n',
        "models = 3\n",
        "not toml [",
    ],
)
def test_bad_override_names_the_problem(tmp_path: Path, text: str) -> None:
    override = tmp_path / "bad.toml"
    override.write_text(text)
    with pytest.raises(ValueError, match="prices"):
        load_price_table(override)


def test_missing_override_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read prices file"):
        load_price_table(tmp_path / "absent.toml")


def test_load_from_settings(tmp_path: Path) -> None:
    override = tmp_path / "p.toml"
    override.write_text('[models."house"]\ninput = 3\noutput = 4\n')
    settings = Settings.load(env={}, config_file=str(tmp_path / "none.toml")).replace(
        prices_file=str(override), default_input_price=11, default_output_price=22
    )
    table = PriceTable.load(settings)
    assert table.lookup("house") == price(3, 4)
    assert table.lookup("unknown") == price(11, 22)
    strict = PriceTable.load(settings.replace(reject_unknown_models=True))
    with pytest.raises(InvalidRequestError):
        strict.lookup("unknown")


def test_lookup_cache_stays_bounded() -> None:
    table = load_price_table()
    for i in range(10_000):
        assert table.get(f"random-model-{i}") is None
    assert len(table._cache) <= 4096
    assert table.get("openai/gpt-4o") == price(2_500_000, 10_000_000)
