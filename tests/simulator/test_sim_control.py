"""Inspection/control API, key checking, stream lifecycle counters and both runners."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from typing import Any

import httpx
import openai
import pytest

from opencompress.simulator import SimulatorThread, key_fingerprint, start_in_loop

ASK = [{"role": "user", "content": "hello"}]


def _wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def test_requests_are_recorded_exactly_without_the_key(sim: SimulatorThread, http: httpx.Client) -> None:
    http.delete("/_sim/requests")
    body = {
        "model": "gpt-4o",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            }
        ],
        "unknown_field": {"nested": [1, 2.5, None, True]},
        "logprobs": True,
    }
    headers = {"authorization": "Bearer sk-secret-upstream-key", "x-api-key": "sk-other", "x-custom": "kept"}
    assert http.post("/v1/chat/completions", json=body, headers=headers).status_code == 200
    snapshot = http.get("/_sim/requests").json()
    assert len(snapshot["requests"]) == 1
    entry = snapshot["requests"][0]
    assert entry["body"] == body and entry["path"] == "/v1/chat/completions" and entry["method"] == "POST"
    assert entry["authorization"] == {
        "present": True,
        "scheme": "Bearer",
        "sha256_prefix": key_fingerprint("sk-secret-upstream-key"),
    }
    assert key_fingerprint("k") == hashlib.sha256(b"k").hexdigest()[:16]
    assert entry["headers"]["x-custom"] == "kept"
    assert entry["headers"]["x-api-key"].startswith("sha256:")
    assert "sk-secret-upstream-key" not in str(snapshot) and "sk-other" not in str(snapshot)
    assert snapshot["counters"]["chat_requests"] == 1
    assert http.delete("/_sim/requests").json() == {"cleared": True}
    assert http.get("/_sim/requests").json()["requests"] == []


def test_log_keeps_the_last_100_and_invalid_json_raw(http: httpx.Client) -> None:
    http.delete("/_sim/requests")
    for i in range(103):
        http.post("/v1/chat/completions", json={"model": f"m{i}", "messages": ASK, "max_tokens": 1})
    http.post("/chat/completions", content=b"{broken")
    log = http.get("/_sim/requests").json()["requests"]
    assert len(log) == 100
    assert log[0]["body"]["model"] == "m4" and log[-1]["body"] is None and log[-1]["raw"] == "{broken"
    assert log[-1]["authorization"] == {"present": False, "scheme": None, "sha256_prefix": None}


def test_connections_are_counted_separately_from_requests(sim: SimulatorThread) -> None:
    with httpx.Client(base_url=sim.url) as c:
        c.delete("/_sim/requests")
        for _ in range(3):
            c.post("/v1/chat/completions", json={"model": "m", "messages": ASK, "max_tokens": 1})
        c.get("/v1/models")
        counters = c.get("/_sim/stats").json()
    assert counters["requests"] == 4 and counters["chat_requests"] == 3 and counters["connections"] == 1


def test_client_disconnect_mid_stream_is_seen(sim: SimulatorThread, http: httpx.Client) -> None:
    http.delete("/_sim/requests")
    body = {"model": "m", "messages": ASK, "stream": True, "simulate": {"latency_s": 0.05}}
    with httpx.Client(timeout=5) as c, c.stream("POST", sim.base_url + "/chat/completions", json=body) as r:
        for _ in r.iter_raw():
            # checked inside the loop: leaving it closes the generator and with it the connection
            assert sim.state.counters()["active_streams"] == 1
            break
    assert _wait_for(lambda: sim.state.counters()["active_streams"] == 0)
    counters = sim.state.counters()
    assert counters["streams_aborted"] == 1 and counters["streams_completed"] == 0


def test_held_request_gauge_during_timeout_fault(sim: SimulatorThread) -> None:
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(timeout=0.4) as c:
                c.post(
                    sim.base_url + "/chat/completions",
                    json={"model": "m", "messages": ASK, "simulate": {"fault": "timeout"}},
                )
        except httpx.ReadTimeout as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    assert _wait_for(lambda: sim.state.counters()["held_requests"] == 1)
    worker.join()
    assert errors and _wait_for(lambda: sim.state.counters()["held_requests"] == 0)


def test_require_key() -> None:
    with SimulatorThread(require_key="sk-upstream-0123456789", recordings_dir=None) as guarded:
        with openai.OpenAI(base_url=guarded.base_url, api_key="sk-wrong-key-abcdef", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError) as info:
                bad.chat.completions.create(model="m", messages=ASK)  # type: ignore[arg-type]
        error = info.value.body
        assert isinstance(error, dict) and error["code"] == "invalid_api_key"
        assert "sk-wr**********cdef" in error["message"] and "sk-wrong-key-abcdef" not in error["message"]
        with openai.OpenAI(
            base_url=guarded.base_url, api_key="sk-upstream-0123456789", max_retries=0
        ) as good:
            assert good.chat.completions.create(model="m", messages=ASK).choices  # type: ignore[arg-type]
        with httpx.Client() as raw:
            missing = raw.post(guarded.base_url + "/chat/completions", json={"model": "m", "messages": ASK})
        assert missing.status_code == 401 and "didn't provide" in missing.json()["error"]["message"]


def test_thread_urls_and_health(sim: SimulatorThread, http: httpx.Client) -> None:
    assert sim.url == f"http://127.0.0.1:{sim.port}" and sim.base_url == sim.url + "/v1"
    assert http.get("/health").json() == {"status": "ok", "simulator": True}


def test_stop_is_prompt_even_with_a_hung_stream() -> None:
    sim = SimulatorThread(recordings_dir=None).start()
    body = {
        "model": "m",
        "messages": ASK,
        "stream": True,
        "simulate": {"fault": "hang_after", "after_chunks": 1, "delay_s": 30},
    }
    got: list[bytes] = []

    def read() -> None:
        try:
            with (
                httpx.Client(timeout=10) as c,
                c.stream("POST", sim.base_url + "/chat/completions", json=body) as r,
            ):
                for piece in r.iter_raw():
                    got.append(piece)
        except httpx.HTTPError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    assert _wait_for(lambda: len(got) >= 1)
    start = time.monotonic()
    sim.stop()
    assert time.monotonic() - start < 2
    reader.join(5)
    assert not reader.is_alive()


def test_start_in_loop_serves_in_the_current_loop() -> None:
    async def scenario() -> tuple[str, int, float]:
        running = await start_in_loop(recordings_dir=None, latency_s=0.0)
        async with httpx.AsyncClient(timeout=5) as c:
            reply = await c.post(running.base_url + "/chat/completions", json={"model": "m", "messages": ASK})
            held = asyncio.create_task(
                c.post(
                    running.base_url + "/chat/completions",
                    json={"model": "m", "messages": ASK, "simulate": {"fault": "timeout", "delay_s": 30}},
                )
            )
            await asyncio.sleep(0.1)
            start = time.monotonic()
            await running.stop()
            stopped_in = time.monotonic() - start
            held_status = (await held).status_code
        assert running.port > 0 and running.base_url == f"http://127.0.0.1:{running.port}/v1"
        return reply.json()["choices"][0]["message"]["content"], held_status, stopped_in

    content, held_status, stopped_in = asyncio.run(scenario())
    assert content.startswith("Simulated answer")
    assert held_status == 503 and stopped_in < 2


def test_embedded_simulator_leaves_uvicorns_lifecycle_lines_to_the_host() -> None:
    """``serve`` embeds the simulator in its own loop: its "Started server process" would print twice.
    The handler sits on ``uvicorn.error`` itself: uvicorn's logging config (set up by other tests'
    servers) stops the ``uvicorn`` loggers from propagating to the root logger caplog listens on."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    level = uvicorn_log.level

    async def scenario() -> None:
        running = await start_in_loop(recordings_dir=None, latency_s=0.0)
        uvicorn_log.info("the host's own line")
        await running.stop()

    uvicorn_log.addHandler(handler)
    uvicorn_log.setLevel(logging.INFO)
    try:
        asyncio.run(scenario())
    finally:
        uvicorn_log.removeHandler(handler)
        uvicorn_log.setLevel(level)
    assert lines == ["the host's own line"]
