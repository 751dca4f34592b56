"""The public JSON shape of accounts, keys and usage (REST API, dashboard, CSV share it).

One module so every surface names and formats things the same way: camelCase keys, times as
ISO-8601 UTC strings, money as integer micro-dollars (``…Micros``) next to an exact decimal USD
string (``…Usd``, e.g. ``"0.001234"``) — never a float. Secrets never appear: a key shows its
display prefix, a BYOK key only whether it stores a provider key.

Compression figures: ``compressionRate`` is compressed ÷ original input tokens (the share kept,
like the compression API's ``rate``; 1.0 = nothing removed) and ``reduction`` is 1 − that (the
share removed). Both are ``null`` when the original prompt had no tokens.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opencompress.money import MICROS_PER_USD
from opencompress.storage.base import Account, ApiKey, UsageRecord


def usd(micros: int) -> str:
    """Exact decimal dollars without a currency sign: ``1_234`` → ``"0.001234"``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}{whole}.{frac:06d}"


def iso_time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def money(name: str, micros: int) -> dict[str, Any]:
    """``money("fee", 20)`` → ``{"feeMicros": 20, "feeUsd": "0.000020"}``."""
    return {f"{name}Micros": micros, f"{name}Usd": usd(micros)}


def rates(original_tokens: int, compressed_tokens: int) -> dict[str, float | None]:
    if original_tokens <= 0:
        return {"compressionRate": None, "reduction": None}
    kept = compressed_tokens / original_tokens
    return {"compressionRate": round(kept, 4), "reduction": round(1 - kept, 4)}


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "email": account.email,
        **money("balance", account.balance_micros),
        "createdAt": iso_time(account.created_at),
    }


def key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "keyPrefix": key.prefix,
        "mode": key.mode,
        "isActive": key.is_active,
        "lastUsedAt": iso_time(key.last_used_at),
        "createdAt": iso_time(key.created_at),
        "upstreamBaseUrl": key.upstream_base_url,
        "hasUpstreamKey": key.upstream_key_encrypted is not None,
        "rpmLimit": key.rpm_limit,
        "concurrencyLimit": key.concurrency_limit,
        "compressionLevel": key.compression_level,
    }


def usage_json(row: UsageRecord) -> dict[str, Any]:
    return {
        "requestId": row.request_id,
        "createdAt": iso_time(row.created_at),
        "keyId": row.key_id,
        "model": row.model,
        "mode": row.mode,
        "status": row.status,
        "originalInputTokens": row.original_input_tokens,
        "compressedInputTokens": row.compressed_input_tokens,
        "outputTokens": row.output_tokens,
        "tokensSaved": max(0, row.original_input_tokens - row.compressed_input_tokens),
        **rates(row.original_input_tokens, row.compressed_input_tokens),
        **money("originalCost", row.original_cost_micros),
        **money("actualCost", row.actual_cost_micros),
        **money("savings", row.savings_micros),
        **money("fee", row.fee_micros),
        **money("charged", row.charged_micros),
        "latencyMs": row.total_ms,
        "ttfbMs": row.ttfb_ms,
        "compressionMs": row.compression_ms,
    }
