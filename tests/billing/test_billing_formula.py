"""The billing formula against hand-computed values, rounding edges and a reference model."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opencompress.billing import Charge, ModelPrice, compute_charge, cost_micros, fee_micros

GPT_4O = ModelPrice(input_micros_per_1m=2_500_000, output_micros_per_1m=10_000_000)
MINI = ModelPrice(input_micros_per_1m=150_000, output_micros_per_1m=600_000)
NANO = ModelPrice(input_micros_per_1m=100_000, output_micros_per_1m=400_000)


def test_router_and_byok_by_hand() -> None:
    # original: 10_000 × $2.50/M + 500 × $10/M = $0.025 + $0.005 = $0.030 → 30_000 micros
    # actual:    6_000 × $2.50/M + 500 × $10/M = $0.015 + $0.005 = $0.020 → 20_000 micros
    # savings 10_000, fee 20% = 2_000
    args = {
        "original_input_tokens": 10_000,
        "compressed_input_tokens": 6_000,
        "output_tokens": 500,
        "price": GPT_4O,
    }
    assert compute_charge(**args, mode="router") == Charge(  # type: ignore[arg-type]
        original_cost_micros=30_000,
        actual_cost_micros=20_000,
        savings_micros=10_000,
        fee_micros=2_000,
        charge_micros=22_000,
    )
    byok = compute_charge(**args, mode="byok")  # type: ignore[arg-type]
    assert (byok.savings_micros, byok.fee_micros, byok.charge_micros) == (10_000, 2_000, 2_000)


def test_costs_round_half_up_once_per_cost() -> None:
    # 7 × 0.15 + 1 × 0.60 = 1.65 micros → 2;  3 × 0.15 + 0.60 = 1.05 → 1; savings 1; fee 0.2 → 0
    charge = compute_charge(
        original_input_tokens=7, compressed_input_tokens=3, output_tokens=1, price=MINI, mode="router"
    )
    assert charge == Charge(
        original_cost_micros=2, actual_cost_micros=1, savings_micros=1, fee_micros=0, charge_micros=1
    )
    assert cost_micros(5, 0, NANO) == 1  # exactly 0.5 → up
    assert cost_micros(4, 0, NANO) == 0  # 0.4 → down
    # 3 × 0.1 + 1 × 0.4 = 0.7 → 1: the sum is rounded, not each term (which would give 0 + 0)
    assert cost_micros(3, 1, NANO) == 1
    # a million o1 output tokens is exactly $60
    o1 = ModelPrice(input_micros_per_1m=15_000_000, output_micros_per_1m=60_000_000)
    assert cost_micros(0, 1_000_000, o1) == 60_000_000


@pytest.mark.parametrize(
    ("savings", "percent", "fee"),
    [
        (2, 20, 0),
        (3, 20, 1),
        (7, 20, 1),
        (8, 20, 2),
        (10, 20, 2),
        (1, 50, 1),
        (3, 50, 2),
        (0, 20, 0),
        (99, 0, 0),
    ],
)
def test_fee_rounds_half_up(savings: int, percent: int, fee: int) -> None:
    assert fee_micros(savings, percent) == fee


def test_savings_never_negative() -> None:
    # compression made the prompt longer: no saving, no fee, no refund
    args = {
        "original_input_tokens": 100,
        "compressed_input_tokens": 400,
        "output_tokens": 10,
        "price": GPT_4O,
    }
    router = compute_charge(**args, mode="router")  # type: ignore[arg-type]
    assert (router.original_cost_micros, router.actual_cost_micros) == (350, 1_100)
    assert (router.savings_micros, router.fee_micros, router.charge_micros) == (0, 0, 1_100)
    assert compute_charge(**args, mode="byok").charge_micros == 0  # type: ignore[arg-type]


def test_fee_percent_is_configurable() -> None:
    charge = compute_charge(
        original_input_tokens=10_000,
        compressed_input_tokens=6_000,
        output_tokens=0,
        price=GPT_4O,
        mode="router",
        fee_percent=35,
    )
    assert (charge.savings_micros, charge.fee_micros, charge.charge_micros) == (10_000, 3_500, 18_500)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"original_input_tokens": -1},
        {"compressed_input_tokens": -1},
        {"output_tokens": -1},
        {"fee_percent": 101},
        {"fee_percent": -1},
    ],
)
def test_caller_bugs_are_value_errors(kwargs: dict[str, int]) -> None:
    base = {"original_input_tokens": 1, "compressed_input_tokens": 1, "output_tokens": 1, "fee_percent": 20}
    with pytest.raises(ValueError):
        compute_charge(**{**base, **kwargs}, price=GPT_4O, mode="router")  # type: ignore[arg-type]


def _half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)) // 1)


@given(
    original=st.integers(0, 2_000_000),
    compressed=st.integers(0, 2_000_000),
    output=st.integers(0, 200_000),
    input_price=st.integers(0, 100_000_000),
    output_price=st.integers(0, 100_000_000),
    percent=st.integers(0, 100),
    mode=st.sampled_from(["router", "byok"]),
)
def test_matches_exact_rational_reference(
    original: int, compressed: int, output: int, input_price: int, output_price: int, percent: int, mode: str
) -> None:
    price = ModelPrice(input_micros_per_1m=input_price, output_micros_per_1m=output_price)
    got = compute_charge(
        original_input_tokens=original,
        compressed_input_tokens=compressed,
        output_tokens=output,
        price=price,
        mode=mode,  # type: ignore[arg-type]
        fee_percent=percent,
    )
    per_token_in, per_token_out = Fraction(input_price, 1_000_000), Fraction(output_price, 1_000_000)
    original_cost = _half_up(original * per_token_in + output * per_token_out)
    actual_cost = _half_up(compressed * per_token_in + output * per_token_out)
    savings = max(0, original_cost - actual_cost)
    fee = _half_up(Fraction(savings * percent, 100))
    assert got == Charge(
        original_cost_micros=original_cost,
        actual_cost_micros=actual_cost,
        savings_micros=savings,
        fee_micros=fee,
        charge_micros=actual_cost + fee if mode == "router" else fee,
    )
    assert 0 <= got.fee_micros <= got.savings_micros
