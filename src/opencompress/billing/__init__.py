"""Billing: the model price table, the charge formula and the pre-request hold estimate."""

from __future__ import annotations

from opencompress.billing.estimate import DEFAULT_OUTPUT_TOKENS, estimate_hold_micros, output_budget
from opencompress.billing.formula import DEFAULT_FEE_PERCENT, Charge, compute_charge, cost_micros, fee_micros
from opencompress.billing.prices import ModelPrice, PriceTable, load_price_table

__all__ = [
    "DEFAULT_FEE_PERCENT",
    "DEFAULT_OUTPUT_TOKENS",
    "Charge",
    "ModelPrice",
    "PriceTable",
    "compute_charge",
    "cost_micros",
    "estimate_hold_micros",
    "fee_micros",
    "load_price_table",
    "output_budget",
]
