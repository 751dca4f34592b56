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


def test_router_hold_is_input_plus_output_cost() -> None:
    # 6_000 × $2.50/M + 1_000 × $10/M = 15_000 + 10_000 micros
    hold = estimate_hold_micros(input_tokens=6_000, max_output_tokens=1_000, price=GPT_4O, mode="router")
    assert hold == 25_000


def test_router_hold_adds_the_fee_when_the_original_size_is_known() -> None:
    # savings = 4_000 × $2.50/M = 10_000; fee 2_000
    hold = estimate_hold_micros(
        input_tokens=6_000, max_output_tokens=1_000, price=GPT_4O, mode="router", original_input_tokens=10_000
    )
    assert hold == 27_000


def test_default_output_budget_applies_without_a_limit() -> None:
    hold = estimate_hold_micros(input_tokens=0, max_output_tokens=None, price=GPT_4O, mode="router")
    assert hold == DEFAULT_OUTPUT_TOKENS * 10  # $10/M output → 10 micros per token
    assert estimate_hold_micros(input_tokens=0, max_output_tokens=0, price=GPT_4O, mode="router") == hold


def test_byok_hold_is_the_fee_and_never_zero() -> None:
    byok = estimate_hold_micros(
        input_tokens=6_000, max_output_tokens=1_000, price=GPT_4O, mode="byok", original_input_tokens=10_000
    )
    assert byok == 2_000
    assert estimate_hold_micros(input_tokens=6_000, max_output_tokens=1_000, price=GPT_4O, mode="byok") == 1
    free = ModelPrice(input_micros_per_1m=0, output_micros_per_1m=0)
    assert estimate_hold_micros(input_tokens=10, max_output_tokens=10, price=free, mode="router") == 1
