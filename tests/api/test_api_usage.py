"""Balance and usage through the REST API: rows, cursor pages, filters, one request, summaries, CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from opencompress.storage.base import ApiKey, UsageRecord
from support.gateway import Gateway, Owner, error_of

MESSAGES: Any = [{"role": "user", "content": "hello there"}]
ROW_FIELDS = {
    "requestId", "createdAt", "keyId", "model", "mode", "status", "originalInputTokens",
    "compressedInputTokens", "outputTokens", "tokensSaved", "compressionRate", "reduction",
    "originalCostMicros", "originalCostUsd", "actualCostMicros", "actualCostUsd", "savingsMicros",
    "savingsUsd", "feeMicros", "feeUsd", "chargedMicros", "chargedUsd", "latencyMs", "ttfbMs",
    "compressionMs",
}  # fmt: skip


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def record(
    key: ApiKey, request_id: str, created_at: float, *, model: str = "gpt-4o", n: int = 1
) -> UsageRecord:
    """A usage row with round numbers (scaled by ``n``) to check sums by hand."""
    return UsageRecord(
        request_id=request_id,
        account_id=key.account_id,
        key_id=key.id,
        model=model,
        mode=key.mode,
        original_input_tokens=1000 * n,
        compressed_input_tokens=600 * n,
        output_tokens=50 * n,
        original_cost_micros=3000 * n,
        actual_cost_micros=2000 * n,
        savings_micros=1000 * n,
        fee_micros=200 * n,
        charge_micros=2200 * n,
        compression_ms=1.0,
        ttfb_ms=None,
        total_ms=12.5,
        status="ok",
        created_at=created_at,
    )


def settle(gw: Gateway, account_id: str, rows: list[tuple[str, float, str, int]]) -> list[str]:
    """Write usage rows (request id, time, model, scale) for the account's first key."""

    async def go(service: Any, storage: Any) -> list[str]:
        (key, *_) = await storage.list_keys(account_id)
        for request_id, created_at, model, n in rows:
            await storage.settle(record(key, request_id, created_at, model=model, n=n))
        return [key.id]

    result: list[str] = gw.run(go)
    return result


@dataclass
class History:
    owner: Owner
    prefix: str

    @property
    def client(self) -> httpx.Client:
        return self.owner.client

    def ids(self, letters: str) -> list[str]:
        """Request ids are unique across accounts, so each test's rows carry its own prefix."""
        return [f"{self.prefix}-{letter}" for letter in letters]


@pytest.fixture
def history(console: Gateway, owner: Owner) -> History:
    """Six rows over three days in two months, on two models (funds $5, charges are tiny)."""
    owner.client.post("/api/keys", json={"name": "hist"})
    h = History(owner, "gen-" + owner.account_id)
    a, b, c, d, e, f = h.ids("abcdef")
    settle(
        console,
        owner.account_id,
        [
            (a, ts("2025-05-31T23:59:59"), "gpt-4o", 1),
            (b, ts("2025-06-01T00:00:00"), "gpt-4o", 2),
            (c, ts("2025-06-01T12:00:00"), "gpt-4o-mini", 1),
            (d, ts("2025-06-01T12:00:00"), "gpt-4o", 1),  # same time as c: the id breaks the tie
            (e, ts("2025-06-03T08:00:00"), "gpt-4o-mini", 3),
            (f, ts("2025-06-03T09:00:00"), "gpt-4o", 1),
        ],
    )
    return h


def test_rows_have_every_field_and_real_numbers(console: Gateway, owner: Owner) -> None:
    created = owner.client.post("/api/keys", json={"name": "sdk"}).json()
    completion = console.client(created["fullKey"]).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    page = owner.client.get("/api/usage").json()
    assert page["object"] == "list" and page["nextCursor"] is None and page["hasMore"] is False
    (row,) = page["data"]
    assert set(row) == ROW_FIELDS
    (stored,) = console.usage(owner.account_id)
    assert row["requestId"] == completion.id == stored.request_id and row["keyId"] == created["id"]
    assert (row["model"], row["mode"], row["status"]) == ("gpt-4o-mini", "router", "ok")
    assert row["originalInputTokens"] == stored.original_input_tokens
    assert row["compressedInputTokens"] == stored.compressed_input_tokens
    assert row["outputTokens"] == stored.output_tokens and completion.usage is not None
    assert row["outputTokens"] == completion.usage.completion_tokens
    assert row["chargedMicros"] == stored.charged_micros > 0 and isinstance(row["chargedMicros"], int)
    assert row["chargedUsd"] == f"0.{stored.charged_micros:06d}"
    assert row["latencyMs"] == stored.total_ms and row["createdAt"].endswith("Z")
    balance = owner.client.get("/api/balance").json()
    assert balance["balanceMicros"] == 5_000_000 - stored.charged_micros
    assert owner.client.get(f"/api/usage/{completion.id}").json() == row


def test_money_and_rates_are_exact(history: History) -> None:
    row = history.client.get(f"/api/usage/{history.prefix}-b").json()
    assert (row["originalInputTokens"], row["compressedInputTokens"], row["tokensSaved"]) == (2000, 1200, 800)
    assert (row["compressionRate"], row["reduction"]) == (0.6, 0.4)
    assert (row["savingsMicros"], row["savingsUsd"], row["feeUsd"]) == (2000, "0.002000", "0.000400")
    assert (row["chargedMicros"], row["chargedUsd"]) == (4400, "0.004400")
    assert row["createdAt"] == "2025-06-01T00:00:00.000Z" and row["ttfbMs"] is None


def test_cursor_pages_are_newest_first_and_complete(history: History) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = history.client.get("/api/usage", params=params).json()
        seen += [r["requestId"] for r in page["data"]]
        cursor = page["nextCursor"]
        assert page["hasMore"] is (cursor is not None)
        if cursor is None:
            break
    assert seen == history.ids("fedcba")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "gpt-4o-mini"}, "ec"),
        ({"from": "2025-06-01"}, "fedcb"),
        ({"to": "2025-06-01"}, "dcba"),  # a date "to" includes that day
        ({"from": "2025-06-01T06:00:00Z", "to": "2025-06-03T08:30:00Z"}, "edc"),
        ({"from": str(ts("2025-06-03T08:00:00")), "model": "gpt-4o"}, "f"),
        ({"to": "2025-05-01"}, ""),
    ],
)
def test_filters(history: History, params: dict[str, str], expected: str) -> None:
    page = history.client.get("/api/usage", params=params).json()
    assert [r["requestId"] for r in page["data"]] == history.ids(expected)


def test_filter_by_key(console: Gateway, history: History) -> None:
    other = history.client.post("/api/keys", json={"name": "other"}).json()
    completion = console.client(other["fullKey"]).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    rows = history.client.get("/api/usage", params={"key_id": other["id"]}).json()["data"]
    assert [r["requestId"] for r in rows] == [completion.id]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMl0"}, "cursor"),  # base64 of [1,2]: a request id must be a string
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-13-01"}, "to"),
        ({"from": "-5"}, "from"),
    ],
)
def test_bad_usage_queries_are_400(owner: Owner, params: dict[str, str], param: str) -> None:
    assert error_of(owner.client.get("/api/usage", params=params), 400)["param"] == param


def test_summary_by_day_and_month(history: History) -> None:
    by_day = history.client.get("/api/usage/summary", params={"group": "day"}).json()
    assert by_day["group"] == "day"
    assert [(b["period"], b["calls"]) for b in by_day["data"]] == [
        ("2025-05-31", 1),
        ("2025-06-01", 3),
        ("2025-06-03", 2),
    ]
    june1 = by_day["data"][1]  # n = 2 + 1 + 1
    assert (june1["originalInputTokens"], june1["compressedInputTokens"], june1["tokensSaved"]) == (
        4000,
        2400,
        1600,
    )
    assert (june1["savingsMicros"], june1["feeMicros"], june1["moneySavedMicros"]) == (4000, 800, 3200)
    assert (june1["chargedMicros"], june1["chargedUsd"], june1["avgCompressionRate"]) == (
        8800,
        "0.008800",
        0.6,
    )
    by_month = history.client.get("/api/usage/summary", params={"group": "month"}).json()
    assert [(b["period"], b["calls"], b["savingsMicros"]) for b in by_month["data"]] == [
        ("2025-05", 1, 1000),
        ("2025-06", 5, 8000),
    ]
    totals = by_month["totals"]
    assert (totals["period"], totals["calls"], totals["tokensSaved"], totals["moneySavedUsd"]) == (
        "total",
        6,
        3600,
        "0.007200",
    )
    assert totals == by_day["totals"]
    june = history.client.get("/api/usage/summary", params={"group": "month", "from": "2025-06-01"}).json()
    assert [b["period"] for b in june["data"]] == ["2025-06"] and june["totals"]["calls"] == 5
    mini = history.client.get("/api/usage/summary", params={"model": "gpt-4o-mini"}).json()
    assert mini["group"] == "day" and mini["totals"]["calls"] == 2


def test_summary_needs_a_known_group_and_can_be_empty(owner: Owner) -> None:
    assert error_of(owner.client.get("/api/usage/summary", params={"group": "week"}), 400)["param"] == "group"
    empty = owner.client.get("/api/usage/summary").json()
    assert (
        empty["data"] == []
        and empty["totals"]["calls"] == 0
        and empty["totals"]["avgCompressionRate"] is None
    )


def test_csv_export(history: History) -> None:
    for params, path in (({}, "/api/usage.csv"), ({"format": "csv"}, "/api/usage")):
        r = history.client.get(path, params={**params, "to": "2025-06-01"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["request_id"] for row in rows] == history.ids("dcba")
        gen_b = rows[2]
        assert (gen_b["charged_usd"], gen_b["charged_micros"], gen_b["fee_usd"]) == (
            "0.004400",
            "4400",
            "0.000400",
        )
        assert (gen_b["compression_rate"], gen_b["tokens_saved"], gen_b["created_at"]) == (
            "0.6000",
            "800",
            "2025-06-01T00:00:00.000Z",
        )
        assert r.text.startswith("request_id,created_at,key_id,model,")


def test_csv_export_streams_many_pages_and_defuses_formulas(console: Gateway, owner: Owner) -> None:
    owner.client.post("/api/keys", json={"name": "bulk"})
    base = ts("2025-01-01T00:00:00")
    settle(
        console,
        owner.account_id,
        [(f"gen-{owner.account_id}-{i:04d}", base + i, "=HYPERLINK(1)", 1) for i in range(1203)],
    )
    rows = list(csv.reader(io.StringIO(owner.client.get("/api/usage.csv").text)))
    assert len(rows) == 1 + 1203 and len({r[0] for r in rows[1:]}) == 1203
    assert rows[1][0] == f"gen-{owner.account_id}-1202" and rows[1][3] == "'=HYPERLINK(1)"


def test_one_request_is_private_to_its_account(console: Gateway, owner: Owner) -> None:
    other = console.seed(usd="1.00")
    completion = console.client(other.key).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    err = error_of(owner.client.get(f"/api/usage/{completion.id}"), 404)
    assert err["type"] == "not_found_error"
    error_of(owner.client.get("/api/usage/gen-doesnotexist"), 404)
    assert owner.client.get("/api/usage", params={"key_id": other.key_id}).json()["data"] == []
    assert completion.id not in owner.client.get("/api/usage.csv").text
    assert owner.client.get("/api/usage/summary").json()["totals"]["calls"] == 0
    with console.admin() as admin:
        row = admin.get(f"/api/usage/{completion.id}", params={"account_id": other.account_id})
        assert row.status_code == 200 and row.json()["requestId"] == completion.id


def test_low_balance_flag(console: Gateway, owner: Owner) -> None:
    balance = owner.client.get("/api/balance").json()
    assert balance == {
        "accountId": owner.account_id,
        "balanceMicros": 5_000_000,
        "balanceUsd": "5.000000",
        "lowBalance": False,
        "lowBalanceThresholdMicros": 1_000_000,
        "lowBalanceThresholdUsd": "1.000000",
    }
    poor = console.seed(usd="0.50")
    with console.admin() as admin:
        low = admin.get("/api/balance", params={"account_id": poor.account_id}).json()
    assert (low["balanceMicros"], low["lowBalance"]) == (500_000, True)
