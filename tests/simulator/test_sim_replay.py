"""Every recording in ../shared/data/wire replays byte-identical over a real socket."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from opencompress.simulator import SimulatorThread, default_recordings_dir, list_recordings
from opencompress.simulator.replay import parse_http_dump, split_sse_events

WIRE = default_recordings_dir()
SKIP_REASON = (
    "recordings not found: ../shared/data/wire is absent (set OPENCOMPRESS_WIRE_DIR to point at them)"
)
RECORDINGS = list_recordings(WIRE) if WIRE is not None else []
needs_wire = pytest.mark.skipif(WIRE is None, reason=SKIP_REASON)


def _replay(http: httpx.Client, name: str, **simulate: object) -> httpx.Response:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "simulate": {"replay": name, **simulate},
    }
    return http.post("/v1/chat/completions", json=body)


@needs_wire
def test_recordings_were_found() -> None:
    assert WIRE is not None
    kinds = {Path(r).suffix for r in RECORDINGS}
    assert kinds == {".sse", ".json", ".http"} and len(RECORDINGS) >= 25


@needs_wire
@pytest.mark.parametrize(
    "name", RECORDINGS or [pytest.param("absent", marks=pytest.mark.skip(reason=SKIP_REASON))]
)
def test_recording_replays_byte_identical(http: httpx.Client, name: str) -> None:
    assert WIRE is not None
    data = (WIRE / name).read_bytes()
    response = _replay(http, name)
    if name.endswith(".sse"):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.content == data
    elif name.endswith(".http"):
        dump = parse_http_dump(data)
        assert response.status_code == dump.status == int(data.split()[1])
        assert response.headers["content-type"] == dump.content_type
        assert response.content == dump.body
        assert data.split(b"\n\n", 1)[1].startswith(response.content)
        assert int(response.headers["content-length"]) == len(response.content)
    else:
        expected = int(name.split("error_")[1][:3]) if "/error_" in name else 200
        assert response.status_code == expected
        assert response.headers["content-type"] == "application/json"
        assert response.content == data


def test_sse_split_keeps_every_byte() -> None:
    data = b': OPENROUTER PROCESSING\n\ndata: {"a":1}     \n\nevent: x\ndata: y\n\ndata: tail-without-blank'
    events = split_sse_events(data)
    assert b"".join(events) == data
    assert events == [
        b": OPENROUTER PROCESSING\n\n",
        b'data: {"a":1}     \n\n',
        b"event: x\ndata: y\n\n",
        b"data: tail-without-blank",
    ]


@needs_wire
def test_sse_replay_is_emitted_event_by_event(sim: SimulatorThread) -> None:
    name = "openrouter/chat_stream_processing_comments_partial.sse"
    assert WIRE is not None
    expected = split_sse_events((WIRE / name).read_bytes())
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "simulate": {"replay": name, "latency_s": 0.05},
    }
    arrivals: list[tuple[float, bytes]] = []
    start = time.monotonic()
    with httpx.Client(timeout=10) as c, c.stream("POST", sim.base_url + "/chat/completions", json=body) as r:
        for piece in r.iter_raw():
            arrivals.append((time.monotonic() - start, piece))
    assert b"".join(p for _, p in arrivals) == b"".join(expected)
    assert len(arrivals) == len(expected) == 4, "one write per recorded event (comment lines included)"
    assert arrivals[0][1] == b": OPENROUTER PROCESSING\n\n"
    assert arrivals[-1][0] - arrivals[0][0] >= 0.12


@needs_wire
def test_json_replay_status_override_and_retry_after(http: httpx.Client) -> None:
    response = _replay(http, "openai/error_429_rate_limit_exceeded.json", retry_after=3)
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert _replay(http, "openai/chat_completion_text.json", status=201).status_code == 201


@pytest.mark.parametrize("name", ["../README.md", "/etc/passwd", "openai/../../../../etc/passwd"])
def test_replay_path_must_stay_inside(http: httpx.Client, name: str) -> None:
    if WIRE is None:
        pytest.skip(SKIP_REASON)
    response = _replay(http, name)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_replay_path"


def test_missing_recording_is_404(http: httpx.Client) -> None:
    response = _replay(http, "openai/no_such_recording.sse")
    assert response.status_code == 404
    assert "not found" in response.json()["error"]["message"]


def test_no_recordings_dir_is_404() -> None:
    with SimulatorThread(recordings_dir=None) as bare, httpx.Client(timeout=10) as c:
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "simulate": {"replay": "openai/chat_stream_tool_call.sse"},
        }
        response = c.post(bare.base_url + "/chat/completions", json=body)
    assert response.status_code == 404
    assert "no recordings directory" in response.json()["error"]["message"]


def test_wire_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCOMPRESS_WIRE_DIR", str(tmp_path))
    assert default_recordings_dir() == tmp_path
    monkeypatch.setenv("OPENCOMPRESS_WIRE_DIR", str(tmp_path / "missing"))
    assert default_recordings_dir() is None
