"""Structured logs: one JSON line per request with its id, never the prompt or a key by default."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencompress.observability.logs import (
    CURRENT_REQUEST,
    JsonFormatter,
    RedactingFilter,
    RequestScope,
    TextFormatter,
    make_handler,
    redact,
)
from support.gateway import Gateway, running_gateway

pytestmark = pytest.mark.timeout(60)
SECRET_PROMPT = "My bank PIN is 8841-SECRET-PROMPT and my mother's maiden name is Quuxley."
UPSTREAM_KEY = "sk-upstream-test"  # running_gateway's upstream key: must not be logged either


class Collector(logging.Handler):
    """Keeps raw records, so the test can check what was *logged*, not only what the filter left."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs() -> Iterator[tuple[io.StringIO, Collector]]:
    """Everything every logger writes at DEBUG and up, formatted (JSON, redacted) and raw."""
    out = io.StringIO()
    handler, raw = make_handler("json", out), Collector()
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.addHandler(raw)
    root.setLevel(logging.DEBUG)
    try:
        yield out, raw
    finally:
        root.removeHandler(handler)
        root.removeHandler(raw)
        root.setLevel(old_level)


def raw_text(record: logging.LogRecord) -> str:
    """The record's message and every extra field, unredacted."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001
        message = str(record.msg)
    return message + json.dumps(getattr(record, "fields", {}), default=str) + str(record.exc_info or "")


def request_lines(out: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == "opencompress.request"]


def chat(gw: Gateway, key: str, content: str, **extra: Any) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(
        gw.base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def wait_for_lines(out: io.StringIO, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(lines := request_lines(out)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return lines


@pytest.fixture(scope="module")
def gw(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("logs"), simulator.base_url) as gateway:
        yield gateway


def test_one_line_per_request_with_ids_and_no_prompt_or_key(gw: Gateway) -> None:
    seeded = gw.seed(usd="1.00", rpm=3)
    with captured_logs() as (out, raw):
        answers = [
            chat(gw, seeded.key, SECRET_PROMPT),
            chat(gw, seeded.key, SECRET_PROMPT, stream=True),
            chat(gw, seeded.key, SECRET_PROMPT, simulate={"fault": "status", "status": 500}),
            chat(gw, seeded.key, SECRET_PROMPT),  # 429: the key's 3 requests per minute are used
            chat(gw, seeded.key + "x", SECRET_PROMPT),  # 401
        ]
        assert [a.status_code for a in answers] == [200, 200, 502, 429, 401]
        lines = wait_for_lines(out, len(answers))
    text = out.getvalue()
    assert SECRET_PROMPT not in text and "8841-SECRET" not in text
    assert seeded.key not in text and UPSTREAM_KEY not in text
    for record in raw.records:  # not merely masked by the safety net: never logged at all
        assert "8841-SECRET" not in raw_text(record), record.name
        assert seeded.key not in raw_text(record), record.name

    assert len(lines) == len(answers)
    by_id = {line["request_id"]: line for line in lines}
    for answer in answers:
        line = by_id[answer.headers["x-request-id"]]
        assert line["status"] == answer.status_code
        assert isinstance(line["latency_ms"], float | int) and line["latency_ms"] >= 0
    for answer in answers[:4]:
        line = by_id[answer.headers["x-request-id"]]
        assert line["key_id"] == seeded.key_id and line["model"] == "gpt-4o-mini"
    settled = [by_id[a.headers["x-request-id"]] for a in answers[:3]]
    assert [line["outcome"] for line in settled] == ["ok", "ok", "upstream_error"]
    assert settled[0]["output_tokens"] > 0 and settled[0]["charged_micros"] > 0
    assert settled[0]["original_input_tokens"] >= settled[0]["compressed_input_tokens"] > 0
    assert settled[1]["stream"] is True
    assert settled[2]["error_code"] == "upstream_http_500" and settled[2]["level"] == "warning"
    assert by_id[answers[0].headers["x-request-id"]]["level"] == "info"
    assert "key_id" not in by_id[answers[4].headers["x-request-id"]]  # unknown key: nobody to name


def test_log_content_adds_the_prompt_but_keys_stay_masked(simulator: Any, tmp_path: Path) -> None:
    with running_gateway(tmp_path, simulator.base_url, log_content=True) as gw:
        seeded = gw.seed(usd="1.00")
        leaked = f"{SECRET_PROMPT} Also, here is my key {seeded.key} and Bearer abc.def-ghi_jkl"
        with captured_logs() as (out, _raw):
            assert chat(gw, seeded.key, leaked).status_code == 200
            lines = wait_for_lines(out, 1)
    assert len(lines) == 1
    assert SECRET_PROMPT in lines[0]["prompt"]  # the operator asked for content
    text = out.getvalue()
    assert seeded.key not in text and "abc.def-ghi_jkl" not in text and UPSTREAM_KEY not in text
    assert "sk-***" in lines[0]["prompt"]


def test_500s_are_logged_with_the_request_id_the_client_sees(gw: Gateway) -> None:
    seeded = gw.seed(usd="1.00")

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"storage exploded while holding {seeded.key}")

    app_ctx = gw.server.server.config.app.state.ctx  # the running app's context
    original = app_ctx.storage.reserve
    app_ctx.storage.reserve = explode
    try:
        with captured_logs() as (out, _raw):
            r = chat(gw, seeded.key, "hi")
            lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        app_ctx.storage.reserve = original
    assert r.status_code == 500
    request_id = r.headers["x-request-id"]
    assert request_id in r.json()["error"]["message"]
    errors = [line for line in lines if line["level"] == "error" and line.get("request_id") == request_id]
    assert any("Traceback" in line.get("exc", "") for line in errors), errors
    assert any(line["logger"] == "opencompress.request" and line["status"] == 500 for line in errors)
    assert seeded.key not in out.getvalue()  # the exception text carried the key: masked


def test_redaction_masks_keys_and_bearer_tokens() -> None:
    text = (
        "auth=Bearer eyJhbGciOi.J9-x_y key sk-occ-AbCdEfGh12345678_-zz upstream sk-proj-1234567890abcdef "
        "short sk-abc"
    )
    cleaned = redact(text)
    for secret in ("eyJhbGciOi.J9-x_y", "sk-occ-AbCdEfGh12345678_-zz", "sk-proj-1234567890abcdef"):
        assert secret not in cleaned
    assert "Bearer ***" in cleaned and "sk-abc" in cleaned  # too short to be a key: left alone


def test_formatter_writes_one_json_object_with_request_id_and_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "opencompress.test",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "user %s sent key %s",
            "args": ("alice", "sk-occ-0123456789abcdefghij"),
            "fields": {"status": 200, "note": "Bearer abcdefghij"},
        }
    )
    assert RedactingFilter().filter(record)
    token = CURRENT_REQUEST.set(RequestScope(request_id="gen-test123", method="POST", path="/x", started=0.0))
    try:
        line = JsonFormatter().format(record)
    finally:
        CURRENT_REQUEST.reset(token)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["request_id"] == "gen-test123"
    assert parsed["msg"] == "user alice sent key sk-***"
    assert parsed["status"] == 200 and parsed["note"] == "Bearer ***"
    assert parsed["level"] == "info" and parsed["logger"] == "opencompress.test"


def test_text_format_keeps_a_record_on_one_line_whatever_the_client_sent() -> None:
    """Client-chosen strings (the model name) reach the text log: control characters must not start
    a fake line or reach the terminal, and a value with spaces or ``=`` must not forge a field."""
    record = logging.makeLogRecord(
        {
            "name": "opencompress.request",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "request %s",
            "args": ("done\n2026-01-01 00:00:00 INFO fake: \x1b[31mred",),
            "fields": {"status": 200, "model": 'gpt status=500 "x"\n\x9b2J', "ms": 1.5, "empty": ""},
        }
    )
    line = TextFormatter().format(record)
    assert "\n" not in line and "\x1b" not in line and "\x9b" not in line
    assert "request done\\x0a2026-01-01 00:00:00 INFO fake: \\x1b[31mred" in line
    assert line.endswith('status=200 model="gpt status=500 \\"x\\"\\x0a\\x9b2J" ms=1.5 empty=')
