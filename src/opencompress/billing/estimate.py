"""How much balance to hold (``Storage.reserve``) before forwarding a request.

The hold is what the formula would charge if the answer used its whole output budget: the
compressed prompt's input cost, the output cost of ``max_tokens`` (or ``max_completion_tokens``)
per choice, and the fee. Without a client limit we assume :data:`DEFAULT_OUTPUT_TOKENS` per
choice; the hold only orders concurrent requests fairly (the real charge comes from usage and is
capped at the balance, so a long answer is never cut off), so a modest default keeps small
balances usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opencompress.billing.formula import DEFAULT_FEE_PERCENT, compute_charge
from opencompress.billing.prices import ModelPrice
from opencompress.storage.base import KeyMode

DEFAULT_OUTPUT_TOKENS = 1024


def output_budget(body: Mapping[str, Any], *, default: int = DEFAULT_OUTPUT_TOKENS) -> int:
    """Output tokens a chat request may produce: its token limit (``max_completion_tokens``
    preferred, then ``max_tokens``; else ``default``) times ``n`` choices. Bad types fall back to
    the defaults: request validation is not this function's job."""
    limit = default
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            limit = value
            break
    n = body.get("n")
    choices = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1
    return limit * choices


def estimate_hold_micros(
    *,
    original_input_tokens: int,
    compressed_input_tokens: int,
    output_tokens: int,
    price: ModelPrice,
    mode: KeyMode,
    fee_percent: int = DEFAULT_FEE_PERCENT,
) -> int:
    """The charge for ``output_tokens`` of output (use :func:`output_budget`), at least 1 micro so
    every admitted request holds something."""
    charge = compute_charge(
        original_input_tokens=original_input_tokens,
        compressed_input_tokens=compressed_input_tokens,
        output_tokens=output_tokens,
        price=price,
        mode=mode,
        fee_percent=fee_percent,
    )
    return max(1, charge.charge_micros)
