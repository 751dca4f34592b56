"""Upstream faults through a real gateway: what the client sees, what is billed, and that nothing leaks.

tests/gateway/test_chat_errors.py pins the error *shapes*; here every fault is also checked on the
money side (the usage row and the balance: nothing delivered → 0 charged; a partial stream → the
prompt + the delivered output, never more than the full answer) and on health (a key limited to
one concurrent request can make its next request at once, so no slot or hold leaked).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import Answer, chat_body, post_chat

from opencompress.billing.formula import compute_charge
from opencompress.billing.prices import PriceTable
from opencompress.simulator import SimulatorThread
from opencompress.tokens import count_text
from support.gateway import Gateway, Seeded, running_gateway
from support.server import free_port

pytestmark = pytest.mark.timeout(60)
UPSTREAM_TIMEOUT_S = 1.0
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def gw(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("faults"), simulator.base_url, upstream_timeout_s=UPSTREAM_TIMEOUT_S
    ) as gateway:
        yield gateway


def _one_slot_key(gw: Gateway) -> Seeded:
    return gw.seed(usd="1.00", concurrency=1, rpm=1000)


def _row(gw: Gateway, seeded: Seeded, request_id: str) -> Any:
    """The request's usage row; streams settle just after their last byte, so wait briefly."""
    deadline = time.monotonic() + 10
    while True:
        rows = [r for r in gw.usage(seeded.account_id) if r.request_id == request_id]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(rows) == 1, f"expected exactly one usage row for {request_id}, got {rows}"
    return rows[0]


def _assert_healthy(gw: Gateway, seeded: Seeded) -> None:
    """The same one-slot key streams and completes again at once: no leaked slot, hold or task."""
    for stream in (True, False):
        answer = post_chat(gw.base_url, seeded.key, chat_body(stream=stream, max_tokens=4))
        assert answer.status == 200, answer.text
        if stream:
            assert answer.events[-1] == "[DONE]"


def _expected_charge(gw: Gateway, answer: Answer, output_tokens: int, prompt_tokens: int | None) -> int:
    compressed = int(answer.headers["x-opencompress-compressed-tokens"])
    removed = int(answer.headers["x-opencompress-original-tokens"]) - compressed
    compressed_in = compressed if prompt_tokens is None else prompt_tokens
    charge = compute_charge(
        original_input_tokens=compressed_in + removed,
        compressed_input_tokens=compressed_in,
        output_tokens=output_tokens,
        price=PriceTable.load(gw.settings).lookup("gpt-4o-mini"),
        mode="router",
        fee_percent=gw.settings.fee_percent,
    )
    return charge.charge_micros


PRE_STREAM_FAULTS = {
    "upstream_429": ({"fault": "status", "status": 429, "retry_after": 2}, 429, None),
    "upstream_500": ({"fault": "status", "status": 500}, 502, "upstream_http_500"),
    "timeout_before_first_byte": ({"fault": "timeout", "delay_s": 5}, 502, "upstream_timeout"),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("fault", list(PRE_STREAM_FAULTS))
def test_failure_before_streaming_is_an_http_error_and_costs_nothing(
    gw: Gateway, fault: str, stream: bool
) -> None:
    simulate, status, code = PRE_STREAM_FAULTS[fault]
    seeded = _one_slot_key(gw)
    answer = post_chat(gw.base_url, seeded.key, chat_body(stream=stream, simulate=simulate))

    assert answer.status == status, answer.text
    error = answer.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code and error["type"] == "upstream_error"
    assert "data:" not in answer.text
    row = _row(gw, seeded, answer.request_id)
    assert (row.status, row.output_tokens, row.charged_micros) == ("upstream_error", 0, 0)
    assert gw.balance(seeded.account_id) == 1_000_000
    _assert_healthy(gw, seeded)


def test_garbage_instead_of_json_is_a_502_and_costs_nothing(gw: Gateway) -> None:
    seeded = _one_slot_key(gw)
    answer = post_chat(gw.base_url, seeded.key, chat_body(simulate={"fault": "garbage"}))
    assert answer.status == 502
    assert answer.json()["error"]["code"] == "upstream_bad_response"
    assert _row(gw, seeded, answer.request_id).charged_micros == 0
    assert gw.balance(seeded.account_id) == 1_000_000
    _assert_healthy(gw, seeded)


MID_STREAM_FAULTS = {
    "drop": {"fault": "drop", "after_chunks": 3},
    "error_event": {"fault": "error_event", "after_chunks": 3},
    "stall_past_read_timeout": {"fault": "hang_after", "after_chunks": 3, "delay_s": 5},
    "no_done": {"fault": "no_done"},
    "garbage": {"fault": "garbage"},
}


@pytest.mark.parametrize("fault", list(MID_STREAM_FAULTS))
def test_failure_mid_stream_is_one_error_event_and_bills_only_what_was_delivered(
    gw: Gateway, fault: str
) -> None:
    seeded = _one_slot_key(gw)
    full = post_chat(gw.base_url, seeded.key, chat_body(stream=True, max_tokens=MAX_TOKENS))
    assert full.events[-1] == "[DONE]"
    full_charge = _row(gw, seeded, full.request_id).charged_micros
    before = gw.balance(seeded.account_id)

    answer = post_chat(
        gw.base_url,
        seeded.key,
        chat_body(stream=True, max_tokens=MAX_TOKENS, simulate=MID_STREAM_FAULTS[fault]),
    )
    assert answer.status == 200
    assert "[DONE]" not in answer.events
    assert len(answer.error_events) == 1 and "error" in answer.chunks[-1], answer.text[-600:]
    assert answer.chunks[-1]["error"]["message"]

    row = _row(gw, seeded, answer.request_id)
    assert row.status == "upstream_error"
    usage = [c["usage"] for c in answer.chunks if c.get("usage")]
    delivered = answer.delivered_text()
    if usage:  # the upstream's usage arrived (no_done): bill exactly what it reported
        expected_output = usage[-1]["completion_tokens"]
        prompt_tokens: int | None = usage[-1]["prompt_tokens"]
    else:  # count what reached the client
        expected_output, prompt_tokens = count_text(delivered), None
    assert row.output_tokens == expected_output
    if delivered or usage:
        assert row.charged_micros == _expected_charge(gw, answer, expected_output, prompt_tokens) > 0
    else:
        assert row.charged_micros == 0, "nothing was delivered, so nothing may be charged"
    assert row.charged_micros <= full_charge
    if fault != "no_done":
        assert row.output_tokens < MAX_TOKENS
    assert gw.balance(seeded.account_id) == before - row.charged_micros
    _assert_healthy(gw, seeded)


def test_connect_refused_costs_nothing_and_the_gateway_recovers(tmp_path: Path) -> None:
    port = free_port()
    with running_gateway(tmp_path, f"http://127.0.0.1:{port}/v1") as gw:
        seeded = _one_slot_key(gw)
        for stream in (False, True):
            answer = post_chat(gw.base_url, seeded.key, chat_body(stream=stream))
            assert answer.status == 502
            assert answer.json()["error"]["code"] == "upstream_connect_error"
            assert _row(gw, seeded, answer.request_id).charged_micros == 0
        assert gw.balance(seeded.account_id) == 1_000_000
        with SimulatorThread(port=port):  # the upstream comes back on the same address
            _assert_healthy(gw, seeded)


UNBELIEVABLE_COUNTS = {"negative": -1, "past_64_bits": 10**20, "string": "12", "boolean": True}


def _answer_with_usage(stream: bool, usage: dict[str, Any]) -> str:
    """A well-formed upstream answer ("Hello there.") whose ``usage`` says whatever the test wants."""
    head = {"id": "chatcmpl-u", "created": 1, "model": "gpt-4o-mini"}
    if not stream:
        message = {"role": "assistant", "content": "Hello there."}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return json.dumps({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
    chunk = {**head, "object": "chat.completion.chunk"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello there."}}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": usage},
    ]
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("count", list(UNBELIEVABLE_COUNTS))
def test_an_unbelievable_upstream_usage_is_billed_from_our_own_counts(
    gw: Gateway, count: str, stream: bool
) -> None:
    """A BYOK upstream is whatever the client names. A negative count used to make the charge
    invalid and a huge one overflow the database, and either way the request went unbilled."""
    seeded = _one_slot_key(gw)
    bad = UNBELIEVABLE_COUNTS[count]
    body = _answer_with_usage(stream, {"prompt_tokens": bad, "completion_tokens": bad, "total_tokens": 0})
    answer = post_chat(
        gw.base_url, seeded.key, chat_body(stream=stream, simulate={"fault": "garbage", "body": body})
    )
    assert answer.status == 200, answer.text
    usage = answer.chunks[-1]["usage"] if stream else answer.json()["usage"]
    compressed = int(answer.headers["x-opencompress-compressed-tokens"])
    expected_output = count_text("Hello there.")
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (compressed, expected_output)
    row = _row(gw, seeded, answer.request_id)
    assert (row.status, row.compressed_input_tokens, row.output_tokens) == ("ok", compressed, expected_output)
    assert row.charged_micros == _expected_charge(gw, answer, expected_output, None) > 0
    assert gw.balance(seeded.account_id) == 1_000_000 - row.charged_micros
    _assert_healthy(gw, seeded)


def test_a_charge_waits_out_a_busy_database_instead_of_being_lost(gw: Gateway) -> None:
    """Another process holds the write lock for longer than the busy timeout (5 s): the answer is
    delivered at once and its charge lands once the lock is gone, retried, not dropped."""
    seeded = _one_slot_key(gw)
    path = gw.settings.database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        answer = post_chat(gw.base_url, seeded.key, chat_body(stream=True, max_tokens=4))
        assert answer.status == 200 and answer.events[-1] == "[DONE]"
        assert time.monotonic() - started < 2, "the client must not wait for billing"
        time.sleep(max(0.0, started + 5.5 - time.monotonic()))  # past the busy timeout: a retry is due
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    row = _row(gw, seeded, answer.request_id)
    assert row.status == "ok" and row.charged_micros > 0
    assert gw.balance(seeded.account_id) == 1_000_000 - row.charged_micros
    _assert_healthy(gw, seeded)


def test_a_non_openai_usage_object_is_replaced_by_our_counts(gw: Gateway) -> None:
    """Anthropic-native ``{"output_tokens": …}`` is not OpenAI usage: the client gets, and is billed
    for, the gateway's own counts instead of a merge of both shapes."""
    seeded = _one_slot_key(gw)
    body = _answer_with_usage(False, {"input_tokens": 5, "output_tokens": 240})
    answer = post_chat(gw.base_url, seeded.key, chat_body(simulate={"fault": "garbage", "body": body}))
    assert answer.status == 200, answer.text
    compressed = int(answer.headers["x-opencompress-compressed-tokens"])
    output = count_text("Hello there.")
    usage = answer.json()["usage"]
    assert usage == {
        "prompt_tokens": compressed,
        "completion_tokens": output,
        "total_tokens": compressed + output,
    }
    row = _row(gw, seeded, answer.request_id)
    assert (row.compressed_input_tokens, row.output_tokens) == (compressed, output)
