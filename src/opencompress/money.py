"""Money as integer micro-dollars (1 USD = 1_000_000 micros). Never floats.

Prices are quoted per 1M tokens in micro-dollars, so ``tokens × price_per_1m`` is an exact
integer in "micro-micro" units; :func:`cost_micros` divides once, rounding half up, which is the
one rounding rule of the billing formula.

Balances live in a signed 64-bit column (``BIGINT`` in PostgreSQL, ``INTEGER`` in SQLite). Past
``2**63 - 1`` PostgreSQL raises and SQLite silently turns the sum into a REAL (a float, so
cents get lost and small credits vanish). :data:`MAX_BALANCE_MICROS` keeps every balance far
below that edge, and every credit path refuses an amount that would cross it.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from opencompress.errors import InvalidRequestError

MICROS_PER_USD = 1_000_000

MAX_BALANCE_MICROS = 10**17
"""The highest balance an account may hold: $100 billion.

Why this value: it is about 92× below ``2**63 - 1`` (≈ 9.22e18), so a balance at the ceiling
plus the largest allowed credit (≈ 2e17) cannot overflow even before the guard rejects it, and
sums over many accounts (reports, ledger totals) stay exact 64-bit integers too. No real prepaid
gateway account comes anywhere near it, so it only ever stops typos and abuse."""

MAX_CREDIT_MICROS = MAX_BALANCE_MICROS
"""The largest single credit (and the largest amount :func:`parse_usd` accepts): one credit may
fill an empty account to the ceiling, never more."""

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
"""What an operator types for dollars. ``Decimal`` alone also takes ``10_00`` (digit grouping, so a
typo credits $1,000), full-width and Arabic-Indic digits, exponents and a sign."""

_MAX_USD = Decimal(MAX_CREDIT_MICROS) / MICROS_PER_USD
_MAX_DECIMALS = 6


def parse_usd(text: str, *, param: str = "amount_usd") -> int:
    """``"10.00"`` → 10_000_000. Rejects negatives, NaN and more than 6 decimals (``ValueError``)
    and amounts above :data:`MAX_CREDIT_MICROS` (:class:`InvalidRequestError` naming ``param``:
    a well-formed number that is simply too large is the caller's 400, with its own message).

    The check is done on the exact parsed digits, not on ``value × 10**6``, because Decimal
    arithmetic rounds to 28 significant digits and would let ``"1.0000000000000000000000000001"``
    through as exactly $1."""
    if not _PLAIN_DECIMAL.fullmatch(text.strip()):
        raise ValueError(f"not an amount: {text!r}")
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount must be a non-negative number: {text!r}")
    if value > _MAX_USD:
        raise InvalidRequestError(
            f"amount is above the maximum of {format_usd(MAX_CREDIT_MICROS)} per credit",
            code="amount_too_large",
            param=param,
        )
    if _decimals(value) > _MAX_DECIMALS:
        raise ValueError(f"amount has more than 6 decimals: {text!r}")
    # At most 12 integer digits and 6 decimals: well inside Decimal's 28-digit precision.
    return int(value.quantize(Decimal(1).scaleb(-_MAX_DECIMALS)).scaleb(_MAX_DECIMALS))


def _decimals(value: Decimal) -> int:
    """Significant digits after the point, from the exact digits (trailing zeros do not count)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite values only
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing)) if any(digits) else 0


def check_credit_micros(micros: int, *, param: str = "amount") -> int:
    """``micros`` if it is a valid single credit (``0 < micros <= MAX_CREDIT_MICROS``), else an
    :class:`InvalidRequestError` naming ``param``. Storage calls this before binding the value:
    a Python int past 64 bits cannot even be sent to the database."""
    if micros <= 0:
        raise InvalidRequestError("credit amount must be positive", param=param)
    if micros > MAX_CREDIT_MICROS:
        raise InvalidRequestError(
            f"credit amount {format_usd(micros)} is above the maximum of "
            f"{format_usd(MAX_CREDIT_MICROS)} per credit",
            code="amount_too_large",
            param=param,
        )
    return micros


def balance_ceiling_error(
    balance_micros: int, amount_micros: int, *, param: str = "amount"
) -> InvalidRequestError:
    """The error for a credit that would take a balance above :data:`MAX_BALANCE_MICROS`."""
    return InvalidRequestError(
        f"crediting {format_usd(amount_micros)} to a balance of {format_usd(balance_micros)} would "
        f"exceed the maximum balance of {format_usd(MAX_BALANCE_MICROS)}",
        code="balance_limit_exceeded",
        param=param,
    )


def format_usd(micros: int) -> str:
    """10_000_000 → ``"$10.000000"``; negative values keep their sign."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}${whole}.{frac:06d}"


def cost_micros(tokens: int, price_micros_per_1m: int) -> int:
    """Cost of ``tokens`` at ``price_micros_per_1m`` micro-dollars per 1M tokens, rounded half up."""
    numerator = tokens * price_micros_per_1m
    return int((Decimal(numerator) / Decimal(1_000_000)).to_integral_value(rounding=ROUND_HALF_UP))
