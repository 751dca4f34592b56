"""The hold estimate: the formula's charge for the request's whole output budget."""

from __future__ import annotations

from typing import Any

import pytest

from opencompress.billing import DEFAULT_OUTPUT_TOKENS, ModelPrice, estimate_hold_micros, output_budget

GPT_4O = ModelPrice(input_micros_per_1m=2_500_000, output_micros_per_1m=10_000_000)


@pytest.mark.parametrize(
    ("body", "budget"),
    [
        ({}, DEFAULT_OUTPUT_TOKENS),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 50, "max_tokens": 100}, 50),
        ({"max_tokens": 100, "n": 3}, 300),
        ({"n": 2}, 2 * DEFAULT_OUTPUT_TOKENS),
        ({"max_tokens": "100", "n": True}, DEFAULT_OUTPUT_TOKENS),  # wrong types: defaults
        ({"max_tokens": 0, "n": -1}, DEFAULT_OUTPUT_TOKENS),
    ],
)
def test_output_budget(body: dict[str, Any], budget: int) -> None:
    assert output_budget(body) == budget


def test_router_hold_covers_input_output_and_fee() -> None:
    # actual = 6_000 × 2.5 + 1_000 × 10 = 25_000; original = 35_000; fee = 2_000
    hold = estimate_hold_micros(
        original_input_tokens=10_000,
        compressed_input_tokens=6_000,
        output_tokens=1_000,
        price=GPT_4O,
        mode="router",
    )
    assert hold == 27_000


def test_byok_hold_is_the_fee_and_never_zero() -> None:
    byok = estimate_hold_micros(
        original_input_tokens=10_000,
        compressed_input_tokens=6_000,
        output_tokens=1_000,
        price=GPT_4O,
        mode="byok",
    )
    assert byok == 2_000
    nothing_saved = estimate_hold_micros(
        original_input_tokens=10, compressed_input_tokens=10, output_tokens=10, price=GPT_4O, mode="byok"
    )
    assert nothing_saved == 1
