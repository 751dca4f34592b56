"""Records for storage tests: one definition, so the tests agree on what a charge looks like."""

from __future__ import annotations

import time
from typing import Any

from opencompress.storage.base import ApiKey, Storage, UsageRecord


def usage_for(
    key: ApiKey,
    request_id: str,
    charge: int,
    *,
    created_at: float | None = None,
    model: str = "gpt-4o",
    **overrides: Any,
) -> UsageRecord:
    """A finished ``ok`` request of ``key`` asking for ``charge`` micro-dollars."""
    fields: dict[str, Any] = {
        "request_id": request_id,
        "account_id": key.account_id,
        "key_id": key.id,
        "model": model,
        "mode": key.mode,
        "original_input_tokens": 1000,
        "compressed_input_tokens": 600,
        "output_tokens": 50,
        "original_cost_micros": charge + 100,
        "actual_cost_micros": charge,
        "savings_micros": 100,
        "fee_micros": 20,
        "charge_micros": charge,
        "compression_ms": 1.5,
        "ttfb_ms": 12.0,
        "total_ms": 40.0,
        "status": "ok",
        "created_at": time.time() if created_at is None else created_at,
    }
    fields.update(overrides)
    return UsageRecord(**fields)


async def funded_key(storage: Storage, micros: int) -> ApiKey:
    """A migrated storage's new account holding ``micros``, and a router key of it (hash ``h``)."""
    await storage.migrate()
    account = await storage.create_account("a")
    await storage.credit(account.id, micros, "funds")
    return await storage.create_key(
        account_id=account.id, name="k", mode="router", key_hash="h", prefix="sk-occ-h"
    )
