"""Injected faults behave on the socket the way real upstream failures do."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from opencompress.simulator import SimulatorThread

ASK = [{"role": "user", "content": "Tell me a story about compression."}]


def _body(stream: bool = True, **simulate: Any) -> dict[str, Any]:
    return {"model": "m", "messages": ASK, "stream": stream, "simulate": simulate}


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
    ],
)
def test_status_fault_raises_the_sdk_exception(
    client: openai.OpenAI, status: int, exc: type[Exception]
) -> None:
    with pytest.raises(exc) as info:
        client.chat.completions.create(
            model="m",
            messages=ASK,
            extra_body={"simulate": {"fault": "status", "status": status}},  # type: ignore[arg-type]
        )
    assert isinstance(info.value, openai.APIStatusError) and info.value.status_code == status


def test_429_has_retry_after_and_the_recorded_body_shape(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=_body(fault="status", status=429, retry_after=2))
    assert response.status_code == 429 and response.headers["retry-after"] == "2"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "tokens" and error["code"] == "rate_limit_exceeded" and error["param"] is None
    assert error["message"].startswith("Rate limit reached for m in organization")


def test_status_fault_custom_message(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=_body(fault="status", status=500, message="boom"))
    assert response.status_code == 500 and response.json()["error"] == {
        "message": "boom",
        "type": "server_error",
        "param": None,
        "code": None,
    }


def test_timeout_fires_client_side_and_server_lets_go(sim: SimulatorThread) -> None:
    with openai.OpenAI(base_url=sim.base_url, api_key="k", max_retries=0, timeout=0.3) as impatient:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            impatient.chat.completions.create(
                model="m",
                messages=ASK,
                extra_body={"simulate": {"fault": "timeout", "delay_s": 20}},  # type: ignore[arg-type]
            )
        assert time.monotonic() - start < 2
    deadline = time.monotonic() + 3
    while sim.state.counters()["held_requests"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.state.counters()["held_requests"] == 0, "the held request ends when the client goes away"


def test_timeout_with_short_delay_then_answers(http: httpx.Client) -> None:
    start = time.monotonic()
    response = http.post("/v1/chat/completions", json=_body(stream=False, fault="timeout", delay_s=0.2))
    assert response.status_code == 200 and time.monotonic() - start >= 0.2


def test_drop_aborts_the_stream_mid_way(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/v1/chat/completions", json=_body(fault="drop", after_chunks=3)) as response,
    ):
        assert response.status_code == 200
        for piece in response.iter_raw():
            received += piece
    payloads = sse(received.decode())
    assert len(payloads) == 3 and "[DONE]" not in payloads
    assert json.loads(payloads[0])["choices"][0]["delta"]["role"] == "assistant"


def test_drop_surfaces_in_the_sdk(client: openai.OpenAI) -> None:
    parts = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        stream = client.chat.completions.create(
            model="m",
            messages=ASK,
            stream=True,
            extra_body={"simulate": {"fault": "drop"}},  # type: ignore[arg-type]
        )
        for chunk in stream:
            parts.append(chunk.choices[0].delta.content or "")
    assert len(parts) == 3


def test_drop_non_streaming_truncates_the_body(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=ASK, extra_body={"simulate": {"fault": "drop"}})  # type: ignore[arg-type]
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        http.post("/v1/chat/completions", json=_body(stream=False, fault="drop"))


def test_garbage_stream(http: httpx.Client, client: openai.OpenAI) -> None:
    response = http.post("/v1/chat/completions", json=_body(fault="garbage"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert b"\x00\xff" in response.content and b"[DONE]" not in response.content
    custom = http.post("/v1/chat/completions", json=_body(fault="garbage", body="data: {oops\n\n"))
    assert custom.content == b"data: {oops\n\n"
    with pytest.raises((json.JSONDecodeError, openai.APIError)):
        for _ in client.chat.completions.create(
            model="m",
            messages=ASK,
            stream=True,
            extra_body={"simulate": {"fault": "garbage"}},  # type: ignore[arg-type]
        ):
            pass


def test_garbage_non_streaming_is_invalid_json(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=_body(stream=False, fault="garbage"))
    assert response.status_code == 200
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_no_done_closes_cleanly_without_done(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    body = _body(fault="no_done")
    body["stream_options"] = {"include_usage": True}
    response = http.post("/v1/chat/completions", json=body)
    payloads = sse(response.text)
    assert "[DONE]" not in payloads
    assert json.loads(payloads[-1])["usage"]["total_tokens"] > 0
    assert json.loads(payloads[-2])["choices"][0]["finish_reason"] == "stop"


def test_error_event_like_the_recording(
    http: httpx.Client, client: openai.OpenAI, sse: Callable[[str], list[str]]
) -> None:
    response = http.post("/v1/chat/completions", json=_body(fault="error_event", after_chunks=2))
    assert response.status_code == 200
    assert response.text.endswith(
        'data: {"error": {"message": "The server had an error while processing your request. '
        'Sorry about that!", "type": "server_error"}}\n\n'
    )
    assert len(sse(response.text)) == 3
    with pytest.raises(openai.APIError, match="server had an error"):
        for _ in client.chat.completions.create(
            model="m",
            messages=ASK,
            stream=True,
            extra_body={"simulate": {"fault": "error_event"}},  # type: ignore[arg-type]
        ):
            pass


def test_slow_and_latency_pace_every_event(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    body = _body(fault="slow", delay_s=0.01)
    body["max_tokens"] = 6
    start = time.monotonic()
    events = len(sse(http.post("/v1/chat/completions", json=body).text)) - 1
    slow = time.monotonic() - start
    assert slow >= events * 0.01
    body = _body(latency_s=0.02)
    body["max_tokens"] = 6
    start = time.monotonic()
    http.post("/v1/chat/completions", json=body)
    assert time.monotonic() - start >= events * 0.02


def test_hang_after_stalls_then_read_timeout(sim: SimulatorThread, sse: Callable[[str], list[str]]) -> None:
    received = b""
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as c:
        with (
            pytest.raises(httpx.ReadTimeout),
            c.stream(
                "POST",
                sim.base_url + "/chat/completions",
                json=_body(fault="hang_after", after_chunks=2, delay_s=20),
            ) as response,
        ):
            for piece in response.iter_raw():
                received += piece
    assert len(sse(received.decode())) == 2


def test_hang_after_resumes_after_delay(http: httpx.Client, sse: Callable[[str], list[str]]) -> None:
    response = http.post("/v1/chat/completions", json=_body(fault="hang_after", delay_s=0.1))
    assert sse(response.text)[-1] == "[DONE]"


def test_global_fault_applies_to_next_requests_only(http: httpx.Client, client: openai.OpenAI) -> None:
    armed = http.post("/_sim/fault", json={"fault": "status", "status": 500, "count": 2})
    assert armed.json()["armed"] == {
        "fault": {"fault": "status", "status": 500, "retry_after": 1.0},
        "remaining": 2,
    }
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="m", messages=ASK)  # type: ignore[arg-type]
    assert client.chat.completions.create(model="m", messages=ASK).choices  # type: ignore[arg-type]
    assert http.get("/_sim/fault").json() == {"armed": None}


def test_global_fault_until_cleared_and_own_fault_wins(http: httpx.Client) -> None:
    http.post("/_sim/fault", json={"fault": "status", "status": 503, "count": -1})
    try:
        plain = {"model": "m", "messages": ASK}
        assert [http.post("/v1/chat/completions", json=plain).status_code for _ in range(3)] == [503] * 3
        own = http.post("/v1/chat/completions", json=_body(stream=False, fault="status", status=429))
        assert own.status_code == 429
    finally:
        assert http.delete("/_sim/fault").json() == {"armed": None}
    assert http.post("/v1/chat/completions", json={"model": "m", "messages": ASK}).status_code == 200


@pytest.mark.parametrize(
    "simulate",
    [
        {"fault": "explode"},
        {"faul": "drop"},
        {"fault": "drop", "after_chunks": -1},
        "drop",
        {"fault": "status", "status": 42},
    ],
)
def test_bad_simulate_specs_are_400(http: httpx.Client, simulate: Any) -> None:
    body = {"model": "m", "messages": ASK, "simulate": simulate}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"].startswith("simulate")


def test_bad_global_fault_is_400(http: httpx.Client) -> None:
    assert http.post("/_sim/fault", json={"count": 1}).status_code == 400
    assert http.post("/_sim/fault", json={"fault": "drop", "count": 0}).status_code == 400
    assert http.get("/_sim/fault").json() == {"armed": None}
