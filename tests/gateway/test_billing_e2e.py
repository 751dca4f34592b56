"""Billing through the real gateway: the documented formula, the ledger, concurrency, disconnects."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from support.gateway import Gateway

# gpt-4o list price in the shipped table: $2.50 / 1M input, $10.00 / 1M output (micro-dollars per 1M)
IN_PRICE, OUT_PRICE = 2_500_000, 10_000_000


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _messages() -> list[dict[str, Any]]:
    doc = json.dumps([{"id": i, "value": f"value number {i}", "ok": True} for i in range(60)], indent=4)
    return [
        {"role": "user", "content": "Summarise:"},
        {"role": "tool", "tool_call_id": "c", "content": doc},
        {"role": "user", "content": "How many values are there?"},
    ]


def test_charge_matches_the_documented_formula(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="2.00")
    client = gateway.client(seeded.key)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=_messages())  # type: ignore[arg-type]
    completion = raw.parse()
    assert completion.usage is not None
    original = int(raw.headers["x-opencompress-original-tokens"])
    compressed = int(raw.headers["x-opencompress-compressed-tokens"])
    output = completion.usage.completion_tokens
    assert completion.usage.prompt_tokens == compressed
    original_cost = _round_half_up(original * IN_PRICE + output * OUT_PRICE, 1_000_000)
    actual_cost = _round_half_up(compressed * IN_PRICE + output * OUT_PRICE, 1_000_000)
    savings = max(0, original_cost - actual_cost)
    fee = _round_half_up(savings * 20, 100)
    assert savings > 0
    rows = gateway.usage(seeded.account_id)
    assert len(rows) == 1
    row = rows[0]
    assert row.request_id == completion.id
    assert (row.original_input_tokens, row.compressed_input_tokens, row.output_tokens) == (
        original,
        compressed,
        output,
    )
    assert row.original_cost_micros == original_cost
    assert row.actual_cost_micros == actual_cost
    assert row.savings_micros == savings
    assert row.fee_micros == fee
    assert row.charged_micros == actual_cost + fee
    assert row.status == "ok"
    assert gateway.balance(seeded.account_id) == 2_000_000 - (actual_cost + fee)


def test_streamed_request_is_billed_once_with_stream_usage(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="2.00")
    client = gateway.client(seeded.key)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=_messages(), stream=True))  # type: ignore[arg-type]
    usage = chunks[-1].usage
    assert usage is not None
    deadline = time.monotonic() + 5
    while not (rows := gateway.usage(seeded.account_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rows) == 1
    assert rows[0].output_tokens == usage.completion_tokens
    assert rows[0].compressed_input_tokens == usage.prompt_tokens
    assert gateway.balance(seeded.account_id) == 2_000_000 - rows[0].charged_micros


def test_50_concurrent_requests_on_a_small_balance(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="0", concurrency=50, rpm=1000)
    # measure one request's cost on a separate funded account with the same prompt
    probe = gateway.seed(usd="1.00")
    gateway.client(probe.key).chat.completions.create(model="gpt-4o", messages=_messages(), max_tokens=20)  # type: ignore[arg-type]
    one = gateway.usage(probe.account_id)[0].charged_micros
    assert one > 0
    start = one * 20 + one // 2

    async def credit(service: Any, storage: Any) -> None:
        await storage.credit(seeded.account_id, start, "test")

    gateway.run(credit)

    def call(_: int) -> int:
        with httpx.Client(timeout=60) as c:
            r = c.post(
                gateway.base_url + "/chat/completions",
                headers={"Authorization": f"Bearer {seeded.key}"},
                json={"model": "gpt-4o", "messages": _messages(), "max_tokens": 20},
            )
            return r.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(call, range(50)))
    assert set(statuses) <= {200, 402}
    assert statuses.count(200) >= 15
    assert statuses.count(402) >= 1
    rows = gateway.usage(seeded.account_id)
    ids = [r.request_id for r in rows]
    assert len(ids) == len(set(ids))
    ok_rows = [r for r in rows if r.status == "ok"]
    assert len(ok_rows) == statuses.count(200)
    balance = gateway.balance(seeded.account_id)
    assert balance >= 0
    assert sum(r.charged_micros for r in rows) == start - balance
    assert all(r.charged_micros <= r.charge_micros for r in rows)


def test_client_disconnect_releases_slot_and_bills_what_was_sent(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00", concurrency=1)
    aborted_before = _sim_stats(gateway)["streams_aborted"]
    body = {
        "model": "gpt-4o",
        "messages": _messages(),
        "stream": True,
        "max_tokens": 400,
        "simulate": {"fault": "slow", "delay_s": 0.2},
    }
    with httpx.Client(timeout=30) as c:
        with c.stream(
            "POST",
            gateway.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {seeded.key}"},
        ) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            received = [next(lines) for _ in range(4)]
            assert any(line.startswith("data: ") for line in received)
        # the stream is closed here, mid-generation: the upstream generation must be cancelled promptly
        deadline = time.monotonic() + 2
        while _sim_stats(gateway)["streams_aborted"] == aborted_before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _sim_stats(gateway)["streams_aborted"] == aborted_before + 1
        deadline = time.monotonic() + 5
        status = 429
        while status == 429 and time.monotonic() < deadline:
            status = c.post(
                gateway.base_url + "/chat/completions",
                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {seeded.key}"},
            ).status_code
            time.sleep(0.05)
    assert status == 200, "the concurrency slot must come back after the client left"
    rows = {r.status: r for r in gateway.usage(seeded.account_id)}
    cut = rows["client_disconnected"]
    assert 0 < cut.output_tokens < 400
    assert cut.charged_micros > 0


def _sim_stats(gateway: Gateway) -> dict[str, int]:
    with httpx.Client(timeout=10) as c:
        stats: dict[str, int] = c.get(gateway.sim_url + "/_sim/stats").json()
    return stats


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_client_leaving_before_the_answer_cancels_the_upstream_and_costs_nothing(
    gateway: Gateway, stream: bool
) -> None:
    """The SDK timing out on a slow answer (then retrying) used to leave the upstream generating
    in full and bill the whole answer as ``ok``, though the client never saw a byte of it."""
    seeded = gateway.seed(usd="1.00", concurrency=1)
    body = {
        "model": "gpt-4o",
        "messages": _messages(),
        "stream": stream,
        "simulate": {"fault": "timeout", "delay_s": 8},  # the upstream sends nothing for 8 s
    }
    auth = {"Authorization": f"Bearer {seeded.key}"}
    with httpx.Client(timeout=httpx.Timeout(30, read=0.5)) as c, pytest.raises(httpx.ReadTimeout):
        c.post(gateway.base_url + "/chat/completions", json=body, headers=auth)
    left_at = time.monotonic()
    while _sim_stats(gateway)["held_requests"] and time.monotonic() < left_at + 3:
        time.sleep(0.02)
    assert _sim_stats(gateway)["held_requests"] == 0, "the upstream request must be closed promptly"
    assert time.monotonic() - left_at < 1.5
    rows: list[Any] = []
    while not rows and time.monotonic() < left_at + 5:
        rows = gateway.usage(seeded.account_id)
        time.sleep(0.02)
    assert [(r.status, r.output_tokens, r.charged_micros) for r in rows] == [("client_disconnected", 0, 0)]
    assert gateway.balance(seeded.account_id) == 1_000_000
    with httpx.Client(timeout=30) as c:  # the one concurrency slot came back
        r = c.post(gateway.base_url + "/chat/completions", json={**body, "simulate": None}, headers=auth)
    assert r.status_code == 200, r.text
