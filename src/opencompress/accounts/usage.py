"""Balance and usage history of one account: pages, one request, day/month summaries, export.

Every method takes the account id of the *caller* and only ever reads that account's rows; a
request id of another account is "not found", never "forbidden", so ids reveal nothing.

Pages are newest first with an opaque cursor (URL-safe base64 of the last row's
``(created_at, request_id)``), so pages stay stable while new requests arrive. Summaries group
by UTC day or month; ``moneySaved`` is what compression saved minus the fee (what the user
kept), ``savings`` the gross figure the fee is computed from, and the compression rate is
token-weighted (total compressed ÷ total original input tokens).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from opencompress.accounts.present import money, rates
from opencompress.errors import InvalidRequestError, NotFoundError
from opencompress.storage.base import Account, Storage, UsageDay, UsageRecord

Group = Literal["day", "month"]
DEFAULT_PAGE = 50
MAX_PAGE = 500
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, kw_only=True)
class UsageQuery:
    """Filters shared by pages, summaries and exports: ``since`` inclusive, ``until`` exclusive."""

    since: float | None = None
    until: float | None = None
    key_id: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class UsagePage:
    rows: list[UsageRecord]
    next_cursor: str | None


@dataclass(frozen=True, kw_only=True)
class Bucket:
    """Sums over one period (``"2025-06-15"`` or ``"2025-06"``), or over all of them (``"total"``)."""

    period: str
    calls: int = 0
    original_input_tokens: int = 0
    compressed_input_tokens: int = 0
    output_tokens: int = 0
    original_cost_micros: int = 0
    actual_cost_micros: int = 0
    savings_micros: int = 0
    fee_micros: int = 0
    charged_micros: int = 0

    def plus(self, day: UsageDay | Bucket) -> Bucket:
        return Bucket(
            period=self.period,
            calls=self.calls + day.calls,
            original_input_tokens=self.original_input_tokens + day.original_input_tokens,
            compressed_input_tokens=self.compressed_input_tokens + day.compressed_input_tokens,
            output_tokens=self.output_tokens + day.output_tokens,
            original_cost_micros=self.original_cost_micros + day.original_cost_micros,
            actual_cost_micros=self.actual_cost_micros + day.actual_cost_micros,
            savings_micros=self.savings_micros + day.savings_micros,
            fee_micros=self.fee_micros + day.fee_micros,
            charged_micros=self.charged_micros + day.charged_micros,
        )

    @property
    def tokens_saved(self) -> int:
        return max(0, self.original_input_tokens - self.compressed_input_tokens)

    @property
    def money_saved_micros(self) -> int:
        return self.savings_micros - self.fee_micros

    def to_json(self) -> dict[str, Any]:
        shares = rates(self.original_input_tokens, self.compressed_input_tokens)
        return {
            "period": self.period,
            "calls": self.calls,
            "originalInputTokens": self.original_input_tokens,
            "compressedInputTokens": self.compressed_input_tokens,
            "outputTokens": self.output_tokens,
            "tokensSaved": self.tokens_saved,
            "avgCompressionRate": shares["compressionRate"],
            "avgReduction": shares["reduction"],
            **money("savings", self.savings_micros),
            **money("fee", self.fee_micros),
            **money("moneySaved", self.money_saved_micros),
            **money("charged", self.charged_micros),
            **money("originalCost", self.original_cost_micros),
            **money("actualCost", self.actual_cost_micros),
        }


@dataclass(frozen=True)
class Summary:
    group: Group
    buckets: list[Bucket]
    """Oldest period first; periods without requests are left out."""
    total: Bucket


@dataclass(frozen=True)
class Balance:
    account: Account
    low: bool
    threshold_micros: int


class UsageService:
    def __init__(self, storage: Storage, *, low_balance_threshold_micros: int) -> None:
        self.storage = storage
        self.low_balance_threshold_micros = low_balance_threshold_micros

    async def balance(self, account_id: str) -> Balance:
        account = await self.storage.get_account(account_id)
        if account is None:
            raise NotFoundError(f"account {account_id} not found")
        threshold = self.low_balance_threshold_micros
        return Balance(account=account, low=account.balance_micros < threshold, threshold_micros=threshold)

    async def page(
        self, account_id: str, query: UsageQuery, *, cursor: str | None = None, limit: int = DEFAULT_PAGE
    ) -> UsagePage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}", param="limit")
        rows = await self.storage.list_usage(
            account_id,
            limit=limit + 1,
            before=decode_cursor(cursor) if cursor else None,
            since=query.since,
            until=query.until,
            key_id=query.key_id,
            model=query.model,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return UsagePage(rows, encode_cursor(rows[-1]) if more and rows else None)

    async def get(self, account_id: str, request_id: str) -> UsageRecord:
        row = await self.storage.get_usage(request_id)
        if row is None or row.account_id != account_id:
            raise NotFoundError(f"request {request_id} not found")
        return row

    async def summary(self, account_id: str, query: UsageQuery, *, group: str) -> Summary:
        if group not in ("day", "month"):
            raise InvalidRequestError("group must be 'day' or 'month'", param="group")
        days = await self.storage.usage_by_day(
            account_id, since=query.since, until=query.until, key_id=query.key_id, model=query.model
        )
        buckets: dict[str, Bucket] = {}
        total = Bucket(period="total")
        for day in days:
            label = period_label(day.day, "day" if group == "day" else "month")
            buckets[label] = buckets.get(label, Bucket(period=label)).plus(day)
            total = total.plus(day)
        return Summary("day" if group == "day" else "month", list(buckets.values()), total)

    async def export(
        self, account_id: str, query: UsageQuery, *, batch: int = MAX_PAGE
    ) -> AsyncIterator[UsageRecord]:
        """Every matching row, newest first, fetched ``batch`` at a time (for CSV streaming)."""
        cursor: str | None = None
        while True:
            page = await self.page(account_id, query, cursor=cursor, limit=batch)
            for row in page.rows:
                yield row
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def period_label(day_number: int, group: Group) -> str:
    day = date(1970, 1, 1) + timedelta(days=day_number)
    return day.isoformat() if group == "day" else day.strftime("%Y-%m")


def encode_cursor(row: UsageRecord) -> str:
    raw = json.dumps([row.created_at, row.request_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, request_id = json.loads(raw)
        if (
            isinstance(created_at, int | float)
            and not isinstance(created_at, bool)
            and isinstance(request_id, str)
        ):
            if math.isfinite(created_at):
                return float(created_at), request_id
    except (binascii.Error, ValueError, TypeError):
        pass
    raise InvalidRequestError("cursor is not valid; use the nextCursor of a previous page", param="cursor")


def parse_time(text: str | None, *, param: str, end_of_day: bool = False) -> float | None:
    """A filter bound: epoch seconds, an ISO date (``2025-06-01``) or datetime (naive = UTC).

    A bare date as an upper bound (``end_of_day=True``) means "through that day", i.e. the start
    of the next day, since upper bounds are exclusive."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            raise InvalidRequestError(f"{param} must be a non-negative timestamp", param=param)
        return number
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return (moment + timedelta(days=1 if end_of_day else 0)).timestamp()
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"{param} must be a date (2025-06-01), an ISO datetime or epoch seconds", param=param
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
