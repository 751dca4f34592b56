"""How much balance to hold (``Storage.reserve``) before forwarding a request.

The hold is what the formula would charge if the answer used its whole output budget: the
compressed prompt's input cost, the output cost of ``max_tokens`` (or ``max_completion_tokens``)
per choice, and (when the original prompt size is passed) the fee. Without a client limit we
assume :data:`DEFAULT_OUTPUT_TOKENS` per choice. The hold only makes concurrent requests share
the balance fairly; the real charge comes from usage and is capped at the balance, so a long
answer is never cut off, and a modest default keeps small balances usable.
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
    input_tokens: int,
    max_output_tokens: int | None,
    price: ModelPrice,
    mode: KeyMode,
    original_input_tokens: int | None = None,
    fee_percent: int = DEFAULT_FEE_PERCENT,
    default_output_tokens: int = DEFAULT_OUTPUT_TOKENS,
) -> int:
    """What the formula would charge if the answer used its whole output budget; at least 1.

    ``input_tokens`` is the compressed prompt; ``max_output_tokens`` the client's limit (already
    multiplied by ``n`` if the caller wants that; :func:`output_budget` does both), or ``None``
    for :data:`DEFAULT_OUTPUT_TOKENS`. Router: input + output cost, plus the fee when
    ``original_input_tokens`` is given. BYOK: the fee on the input savings when
    ``original_input_tokens`` is given, else 1 micro (the user pays the provider directly, so
    holding the provider's price would lock far more than we will ever charge).
    """
    output = (
        max_output_tokens
        if max_output_tokens is not None and max_output_tokens > 0
        else default_output_tokens
    )
    charge = compute_charge(
        original_input_tokens=input_tokens if original_input_tokens is None else original_input_tokens,
        compressed_input_tokens=input_tokens,
        output_tokens=output,
        price=price,
        mode=mode,
        fee_percent=fee_percent,
    )
    return max(1, charge.charge_micros)
