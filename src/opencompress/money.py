"""Money as integer micro-dollars (1 USD = 1_000_000 micros). Never floats.

Prices are quoted per 1M tokens in micro-dollars, so ``tokens × price_per_1m`` is an exact
integer in "micro-micro" units; :func:`cost_micros` divides once, rounding half up, which is the
one rounding rule of the billing formula.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000


def parse_usd(text: str) -> int:
    """``"10.00"`` → 10_000_000. Rejects negatives, NaN and more than 6 decimals."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount must be a non-negative number: {text!r}")
    micros = value * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"amount has more than 6 decimals: {text!r}")
    return int(micros)


def format_usd(micros: int) -> str:
    """10_000_000 → ``"$10.000000"``; negative values keep their sign."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}${whole}.{frac:06d}"


def cost_micros(tokens: int, price_micros_per_1m: int) -> int:
    """Cost of ``tokens`` at ``price_micros_per_1m`` micro-dollars per 1M tokens, rounded half up."""
    numerator = tokens * price_micros_per_1m
    return int((Decimal(numerator) / Decimal(1_000_000)).to_integral_value(rounding=ROUND_HALF_UP))
