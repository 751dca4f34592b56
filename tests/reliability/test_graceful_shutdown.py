"""SIGTERM on ``opencompress serve``: stop accepting, finish in-flight streams, bill them, exit 0."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_helpers import Answer, balance, chat_body, seed, usage_rows

pytestmark = pytest.mark.timeout(90)


def _stream_in_thread(
    url: str, key: str, body: dict[str, Any], first_byte: threading.Event
) -> dict[str, Any]:
    """Read a stream on a thread; ``first_byte`` is set once the first event arrived."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            with httpx.Client(timeout=60) as client:
                with client.stream(
                    "POST", url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
                ) as r:
                    result["status"] = r.status_code
                    result["headers"] = r.headers
                    text = ""
                    for piece in r.iter_text():
                        text += piece
                        if "data: " in text:
                            first_byte.set()
                    result["text"] = text
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            result["error"] = exc
        finally:
            first_byte.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    result["thread"] = thread
    return result


def test_sigterm_drains_streams_bills_them_and_exits_zero(spawn: Any, simulator: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shutdown.db'}"
    seeded = seed(db, usd="1.00")
    gw = spawn(database_url=db, upstream_base_url=simulator.base_url, shutdown_grace_s=20)
    body = chat_body(stream=True, max_tokens=8, simulate={"fault": "slow", "delay_s": 0.3})

    first_byte = threading.Event()
    result = _stream_in_thread(gw.base_url, seeded.key, body, first_byte)
    assert first_byte.wait(20), "the stream never started"
    started = time.monotonic()
    gw.signal(signal.SIGTERM)

    time.sleep(0.5)  # uvicorn closes its listening socket at once; give the signal a moment
    with pytest.raises(httpx.ConnectError):
        httpx.get(gw.url + "/health", timeout=2)

    result["thread"].join(30)
    assert "error" not in result, result.get("error")
    answer = Answer(result["status"], result["headers"], result["text"])
    assert answer.status == 200
    assert answer.events[-1] == "[DONE]", answer.text[-500:]
    assert not answer.error_events
    assert time.monotonic() - started > 0.6, "the stream should have been mid-flight at SIGTERM"

    assert gw.wait(30) == 0, gw.log()[-3000:]
    rows = usage_rows(db, seeded.account_id)
    assert [r.request_id for r in rows] == [answer.request_id]
    (row,) = rows
    assert row.status == "ok"
    assert row.output_tokens == 8
    assert row.charged_micros > 0
    assert balance(db, seeded.account_id) == 1_000_000 - row.charged_micros
    for line in gw.log().splitlines():  # every log line is one JSON object
        if line.startswith("{"):
            json.loads(line)


def test_a_request_still_waiting_when_the_grace_ends_is_settled_and_frees_its_hold(
    spawn: Any, simulator: Any, tmp_path: Path
) -> None:
    """Past the grace period uvicorn cancels what is left. A non-streaming request waiting on a
    slow upstream used to vanish: no usage row, and its hold and slot left behind."""
    db = f"sqlite:///{tmp_path / 'cut.db'}"
    seeded = seed(db, usd="1.00")
    gw = spawn(database_url=db, upstream_base_url=simulator.base_url, shutdown_grace_s=1)
    body = chat_body(simulate={"fault": "hang_after", "delay_s": 20})  # half the body, then a stall
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            with httpx.Client(timeout=30) as client:
                outcome["status"] = client.post(
                    gw.base_url + "/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {seeded.key}"},
                ).status_code
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    time.sleep(1.0)  # the gateway is reading the stalled body by now
    gw.signal(signal.SIGTERM)
    assert gw.wait(30) == 0, gw.log()[-3000:]
    thread.join(10)
    assert outcome.get("status", 500) >= 500 or "error" in outcome  # not answered: the server stopped
    rows = usage_rows(db, seeded.account_id)
    assert [(r.status, r.output_tokens, r.charged_micros) for r in rows] == [("error", 0, 0)], gw.log()[
        -3000:
    ]
    assert balance(db, seeded.account_id) == 1_000_000


def test_a_stream_still_running_when_the_grace_ends_gets_one_error_event(
    spawn: Any, simulator: Any, tmp_path: Path
) -> None:
    """Past the grace, uvicorn cancels what is left. A stream used to end in a bare connection
    close (no error event, a traceback in the log) and was recorded as the client leaving."""
    db = f"sqlite:///{tmp_path / 'cut_stream.db'}"
    seeded = seed(db, usd="1.00")
    gw = spawn(database_url=db, upstream_base_url=simulator.base_url, shutdown_grace_s=1)
    body = chat_body(stream=True, max_tokens=40, simulate={"fault": "slow", "delay_s": 0.3})
    first_byte = threading.Event()
    result = _stream_in_thread(gw.base_url, seeded.key, body, first_byte)
    assert first_byte.wait(20), "the stream never started"
    gw.signal(signal.SIGTERM)
    result["thread"].join(30)
    assert gw.wait(30) == 0, gw.log()[-3000:]
    assert "error" not in result, result.get("error")
    answer = Answer(result["status"], result["headers"], result["text"])
    assert answer.status == 200
    assert [e["error"]["code"] for e in answer.error_events] == ["server_shutdown"]
    assert answer.events[-1] != "[DONE]" and "error" in answer.chunks[-1]
    delivered = answer.delivered_text()
    assert delivered

    (row,) = usage_rows(db, seeded.account_id)
    assert row.status == "error"  # the gateway cut it, not the client
    assert 0 < row.output_tokens < 40 and row.charged_micros > 0  # what was delivered is billed
    assert "Exception in ASGI application" not in gw.log()
