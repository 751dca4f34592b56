"""POST /v1/compress draws on the key's rate limits like chat: one slot per HTTP request.

End to end against the real app (httpx and the openai SDK), plus in-process checks of the
concurrency slot that need the compression to block on cue (held while running, given back
after an error, and after a cancellation only once the worker thread has finished).
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest

from opencompress.errors import RateLimitError
from opencompress.gateway import compress_only as use_case
from opencompress.gateway.context import BackgroundTasks
from opencompress.observability.metrics import GatewayMetrics
from opencompress.ratelimit.memory import MemoryRateLimiter
from opencompress.storage.base import ApiKey
from support.gateway import Gateway, error_of

ITEM = {"messages": [{"role": "user", "content": "hello   world"}]}
CHAT = [{"role": "user", "content": "hello"}]


def _compress(gateway: Gateway, key: str, body: Any, path: str = "/v1/compress") -> httpx.Response:
    with gateway.http() as c:
        return c.post(path, headers={"Authorization": f"Bearer {key}"}, json=body)


def test_rpm_exceeded_on_compress_is_a_429_like_chat(gateway: Gateway) -> None:
    key = gateway.seed(usd="1.00", rpm=3).key
    remaining = []
    for path in ("/v1/compress", "/api/compress", "/v1/compress"):
        r = _compress(gateway, key, ITEM, path)
        assert r.status_code == 200, r.text
        assert r.headers["x-ratelimit-limit"] == "3"
        remaining.append(r.headers["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    r = _compress(gateway, key, {"requests": [ITEM] * 2})
    error = error_of(r, 429)
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert "requests per minute" in error["message"]
    assert int(r.headers["retry-after"]) >= 1
    assert r.headers["x-ratelimit-limit"] == "3"
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert int(r.headers["x-ratelimit-reset"]) >= 1
    assert r.headers["x-request-id"].startswith("gen-")


def test_compress_and_chat_share_one_budget(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00", rpm=3)
    client = gateway.client(seeded.key)
    client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    r = _compress(gateway, seeded.key, {"requests": [ITEM] * 50})
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 50
    assert r.headers["x-ratelimit-remaining"] == "0", "a batch of 50 counts as one request"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    assert _compress(gateway, seeded.key, ITEM).status_code == 429
    other = gateway.seed(usd="1.00", rpm=3).key
    assert _compress(gateway, other, ITEM).status_code == 200, "the budget is per key"


def test_success_carries_request_id_and_rate_limit_headers(gateway: Gateway) -> None:
    key = gateway.seed(usd="1.00", rpm=10).key
    first = _compress(gateway, key, ITEM)
    second = _compress(gateway, key, {"requests": [ITEM] * 3})
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert r.headers["x-request-id"].startswith("gen-")
        assert r.headers["x-ratelimit-limit"] == "10"
        assert int(r.headers["x-ratelimit-reset"]) >= 0
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert (first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]) == ("9", "8")


def test_concurrency_slot_comes_back_after_success_and_after_a_400(gateway: Gateway) -> None:
    seeded = gateway.seed(usd="1.00", rpm=100, concurrency=1)
    for _ in range(3):
        assert _compress(gateway, seeded.key, {"requests": [ITEM] * 5}).status_code == 200
    bad = _compress(gateway, seeded.key, {"requests": [ITEM, {"messages": []}]})
    assert error_of(bad, 400)["param"] == "requests[1].messages"
    assert _compress(gateway, seeded.key, ITEM).status_code == 200
    reply = gateway.client(seeded.key).chat.completions.create(model="gpt-4o-mini", messages=CHAT)  # type: ignore[arg-type]
    assert reply.choices, "chat still gets the key's only slot"


def test_invalid_batch_item_names_its_index(gateway: Gateway) -> None:
    key = gateway.seed(usd="1.00", rpm=100).key
    cases = [
        ({"requests": [ITEM, ITEM, ITEM, {"messages": []}]}, "requests[3].messages"),
        ({"requests": [ITEM, {"tools": []}]}, "requests[1].messages"),
        ({"requests": [ITEM, {"messages": [{"role": "robot"}]}]}, "requests[1].messages[0].role"),
        ({"requests": [{**ITEM, "compression": {"level": "max"}}]}, "requests[0].compression.level"),
        ({"requests": [ITEM, ITEM, "hello"]}, "requests[2]"),
    ]
    for body, param in cases:
        error = error_of(_compress(gateway, key, body), 400)
        assert error["type"] == "invalid_request_error"
        assert error["param"] == param
        assert param in error["message"], error["message"]
    single = error_of(_compress(gateway, key, {"messages": []}), 400)
    assert single["param"] == "messages", "a single request keeps the chat parameter names"


# In-process: the use case with a real limiter and a compression step that waits for a cue.


def _ctx() -> Any:
    settings = SimpleNamespace(default_rpm=100, default_concurrency=1, compression_level="balanced")
    return SimpleNamespace(
        settings=settings,
        limiter=MemoryRateLimiter(),
        metrics=GatewayMetrics(),
        key_usage=SimpleNamespace(note=lambda key_id, at: None),
        background=BackgroundTasks(),
    )


KEY = ApiKey(
    id="key_1", account_id="acc_1", name="t", prefix="sk-occ-x", mode="router", is_active=True, created_at=0
)


def _blocking_step(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    started, go = threading.Event(), threading.Event()
    real = use_case.compress_and_count

    def step(*args: Any) -> Any:
        started.set()
        assert go.wait(10), "test never released the worker"
        return real(*args)

    monkeypatch.setattr(use_case, "compress_and_count", step)
    return started, go


async def _wait_for(event: threading.Event) -> None:
    deadline = time.monotonic() + 10
    while not event.is_set():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


def test_slot_is_held_while_compressing_and_released_after(monkeypatch: pytest.MonkeyPatch) -> None:
    started, go = _blocking_step(monkeypatch)

    async def scenario() -> None:
        ctx = _ctx()
        first = asyncio.create_task(use_case.compress_only(ctx, KEY, dict(ITEM), {}))
        await _wait_for(started)
        with pytest.raises(RateLimitError) as refused:
            await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        assert "concurrent requests" in refused.value.message
        assert refused.value.headers()["Retry-After"]
        go.set()
        answer = await first
        assert answer.body["object"] == "compression"
        assert answer.headers["X-RateLimit-Remaining"] == "99"
        again = await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        assert again.body["object"] == "compression"

    asyncio.run(scenario())


def test_slot_is_released_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug in a stage")

    monkeypatch.setattr(use_case, "compress_and_count", broken)

    async def scenario() -> None:
        ctx = _ctx()
        with pytest.raises(RuntimeError):
            await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        monkeypatch.undo()
        answer = await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        assert answer.body["object"] == "compression"

    asyncio.run(scenario())


def test_cancelled_request_frees_its_slot_when_the_work_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    started, go = _blocking_step(monkeypatch)

    async def scenario() -> None:
        ctx = _ctx()
        first = asyncio.create_task(use_case.compress_only(ctx, KEY, dict(ITEM), {}))
        await _wait_for(started)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(RateLimitError):  # the thread still compresses: the slot is still taken
            await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        go.set()
        await ctx.background.drain(10)
        assert not len(ctx.background)
        answer = await use_case.compress_only(ctx, KEY, dict(ITEM), {})
        assert answer.body["object"] == "compression"

    asyncio.run(scenario())
