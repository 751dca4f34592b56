"""Price lookup never lands on a cheaper listed model than the one named: only a provider prefix,
a ``:free`` tag and one dated snapshot suffix are removed; anything else is an unknown model."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencompress.billing import ModelPrice, load_price_table
from opencompress.errors import InvalidRequestError

FALLBACK = ModelPrice(input_micros_per_1m=7, output_micros_per_1m=9)


@pytest.mark.parametrize(
    "model",
    [
        # OpenRouter variants that can cost more than the plain model: never billed as it
        "openai/gpt-4o:extended",
        "gpt-4o:extended",
        "anthropic/claude-3.7-sonnet:thinking",
        "openai/gpt-4o:online",
        "meta-llama/llama-3.1-70b-instruct:nitro",
        "meta/llama-3.1-8b-instruct:fp8",
        "gpt-4o:beta",
        "gpt-4o:free:extended",
        # not the listed model with a longer name
        "o1-pro",
        "o3-pro",
        "gpt-4.5-preview",
        "gpt-4o-audio-preview",
        "gpt-4o-audio-preview-2024-12-17",
        "gpt-4o-mini-search-preview",
        "gpt-5-chat-latest",
        "claude-3-5-sonnet-latest",  # -latest moves to the next snapshot, whatever it costs
        # a context size is not a date
        "llama-3.1-8b-8192",
        "gpt-4-4096",
    ],
)
def test_names_that_are_not_a_listed_model_fall_to_the_unknown_model_rule(model: str) -> None:
    table = load_price_table(default=FALLBACK)
    assert table.canonical(model) is None
    assert table.lookup(model) == FALLBACK
    with pytest.raises(InvalidRequestError) as refused:
        load_price_table(default=None).lookup(model)
    assert refused.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("model", "canonical"),
    [
        ("gpt-4o", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("mistral-large-2411", "mistral-large"),
        ("openai/gpt-4o:free", "gpt-4o"),  # a free route billed at list price: over, never under
        ("meta-llama/llama-3.1-8b-instruct:free", "llama-3.1-8b"),
        ("gpt-4o-2024-08-06:free", "gpt-4o"),
        ("o1", "o1"),
    ],
)
def test_safe_rules_still_find_the_named_model(model: str, canonical: str) -> None:
    assert load_price_table().canonical(model) == canonical


def test_only_one_dated_suffix_is_removed() -> None:
    assert load_price_table().canonical("gpt-4-0613-0314") is None


def test_an_operator_entry_for_a_variant_is_found_exactly(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text('[models."openai/gpt-4o:extended"]\ninput = 6_000_000\noutput = 18_000_000\n')
    table = load_price_table(override)
    assert table.get("OpenAI/GPT-4o:extended") == ModelPrice(
        input_micros_per_1m=6_000_000, output_micros_per_1m=18_000_000
    )
    assert table.get("openai/gpt-4o") == ModelPrice(
        input_micros_per_1m=2_500_000, output_micros_per_1m=10_000_000
    )


def test_no_rule_maps_a_listed_model_to_a_cheaper_one() -> None:
    """Every spelling the rules accept of each listed model resolves to that model itself."""
    table = load_price_table()
    for name in table.models():
        for spelling in (name, f"vendor/{name}", f"{name}:free", f"{name}-2025-01-31", f"{name}-0613"):
            assert table.canonical(spelling) == name, spelling
