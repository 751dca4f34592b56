"""Usage rows as CSV (RFC 4180 via the ``csv`` module): a header line, then one line per request.

Money appears twice per amount, as exact decimal dollars (``charged_usd``) and as integer
micro-dollars (``charged_micros``), so spreadsheets and scripts both read it without floats.
Text cells that a spreadsheet would run as a formula (starting with ``= + - @`` or a tab) get a
leading apostrophe: the model name comes from the client, so it must not become a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from opencompress.accounts.present import iso_time, usd
from opencompress.storage.base import UsageRecord

_MONEY = ("original_cost", "actual_cost", "savings", "fee", "charged")

HEADER: tuple[str, ...] = (
    "request_id",
    "created_at",
    "key_id",
    "model",
    "mode",
    "status",
    "original_input_tokens",
    "compressed_input_tokens",
    "output_tokens",
    "tokens_saved",
    "compression_rate",
    *(f"{name}_{unit}" for name in _MONEY for unit in ("usd", "micros")),
    "latency_ms",
    "ttfb_ms",
    "compression_ms",
)


def _text(value: str) -> str:
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_row(row: UsageRecord) -> list[str]:
    amounts = {
        "original_cost": row.original_cost_micros,
        "actual_cost": row.actual_cost_micros,
        "savings": row.savings_micros,
        "fee": row.fee_micros,
        "charged": row.charged_micros,
    }
    rate = (
        f"{row.compressed_input_tokens / row.original_input_tokens:.4f}"
        if row.original_input_tokens > 0
        else ""
    )
    return [
        row.request_id,
        iso_time(row.created_at) or "",
        _text(row.key_id),
        _text(row.model),
        row.mode,
        _text(row.status),
        str(row.original_input_tokens),
        str(row.compressed_input_tokens),
        str(row.output_tokens),
        str(max(0, row.original_input_tokens - row.compressed_input_tokens)),
        rate,
        *(part for name in _MONEY for part in (usd(amounts[name]), str(amounts[name]))),
        f"{row.total_ms:.3f}",
        "" if row.ttfb_ms is None else f"{row.ttfb_ms:.3f}",
        f"{row.compression_ms:.3f}",
    ]


def _line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


async def csv_lines(rows: AsyncIterator[UsageRecord]) -> AsyncIterator[str]:
    """The header, then one encoded CSV line per row as the rows arrive (for streaming)."""
    yield _line(HEADER)
    async for row in rows:
        yield _line(csv_row(row))
