"""The billing formula, as a pure function of token counts and prices.

    original_cost = original_input_tokens × input_price + output_tokens × output_price
    actual_cost   = compressed_input_tokens × input_price + output_tokens × output_price
    savings       = max(0, original_cost − actual_cost)
    fee           = fee_percent % of savings
    charge        = actual_cost + fee   (router: we paid the upstream)
                  = fee                 (byok: the user paid the upstream directly)

Rounding (the only rounding in billing), all integers, no floats anywhere:

1. Prices are micro-dollars per 1M tokens, so ``tokens × price`` is exact in units of
   1e-6 micro-dollars. Each *cost* sums its two terms exactly in those units and is then rounded
   once, half up, to whole micro-dollars: ``cost = (exact + 500_000) // 1_000_000``. Rounding the
   sum (not each term) means an answer's cost does not depend on how it splits into input and
   output.
2. ``savings`` is the difference of the two rounded costs, floored at 0 (compression that made the
   prompt longer never creates a negative saving or a refund).
3. ``fee = savings × fee_percent / 100`` rounded half up to whole micro-dollars:
   ``(savings × fee_percent × 2 + 100) // 200``.
4. ``charge`` adds integers, so it needs no rounding. The storage layer later caps what is
   actually *charged* at the account balance; that is not part of this formula.

Half up is the same rule as :func:`opencompress.money.cost_micros`; the counts and percentages
are non-negative, so "half up" and "half away from zero" agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from opencompress.billing.prices import ModelPrice
from opencompress.storage.base import KeyMode

TOKENS_PER_PRICE_UNIT = 1_000_000
DEFAULT_FEE_PERCENT = 20


@dataclass(frozen=True, kw_only=True)
class Charge:
    original_cost_micros: int
    actual_cost_micros: int
    savings_micros: int
    fee_micros: int
    charge_micros: int


def cost_micros(input_tokens: int, output_tokens: int, price: ModelPrice) -> int:
    """Cost of one request's tokens, rounded once, half up, to micro-dollars (rule 1)."""
    exact = input_tokens * price.input_micros_per_1m + output_tokens * price.output_micros_per_1m
    return (exact + TOKENS_PER_PRICE_UNIT // 2) // TOKENS_PER_PRICE_UNIT


def fee_micros(savings_micros: int, fee_percent: int) -> int:
    """``fee_percent`` % of the savings, rounded half up (rule 3)."""
    return (savings_micros * fee_percent * 2 + 100) // 200


def compute_charge(
    *,
    original_input_tokens: int,
    compressed_input_tokens: int,
    output_tokens: int,
    price: ModelPrice,
    mode: KeyMode,
    fee_percent: int = DEFAULT_FEE_PERCENT,
) -> Charge:
    """Apply the formula above. Negative counts or a percentage outside 0..100 are caller bugs
    (``ValueError``), never user errors."""
    for name, value in (
        ("original_input_tokens", original_input_tokens),
        ("compressed_input_tokens", compressed_input_tokens),
        ("output_tokens", output_tokens),
    ):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0 <= fee_percent <= 100:
        raise ValueError(f"fee_percent must be within 0..100, got {fee_percent}")
    original = cost_micros(original_input_tokens, output_tokens, price)
    actual = cost_micros(compressed_input_tokens, output_tokens, price)
    savings = max(0, original - actual)
    fee = fee_micros(savings, fee_percent)
    charge = actual + fee if mode == "router" else fee
    return Charge(
        original_cost_micros=original,
        actual_cost_micros=actual,
        savings_micros=savings,
        fee_micros=fee,
        charge_micros=charge,
    )
