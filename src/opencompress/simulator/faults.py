"""The ``simulate`` request field: replays, injected faults and per-request latency.

Tests drive the simulator *through* the gateway, which forwards unknown body fields untouched, so
the whole control surface is one JSON object in the request body (``extra_body={"simulate": …}``
with the openai SDK). Unknown keys and fault names are rejected with a 400 so a typo in a test
fails loudly instead of silently testing the happy path.

Contract (every key optional)::

    replay        "openai/chat_stream_tool_call.sse"  recording path relative to recordings_dir
    fault         status | timeout | drop | garbage | no_done | error_event | slow | hang_after
    status        HTTP status for fault=status (default 500); for .json replays overrides the status;
                  for a non-streaming fault=garbage, the status its body comes with (default 200)
    retry_after   seconds for the Retry-After header on 429s (default 1)
    message       error message for status / error_event
    delay_s       timeout: wait before any byte (30); slow: extra pause per event (0.2);
                  hang_after: stall length (30)
    after_chunks  drop / error_event / hang_after: SSE data events sent first (default 3, the role
                  chunk counts); non-streaming drop/hang_after send half the JSON body instead
    body          raw body for fault=garbage
    latency_s     pause before each SSE event (once before a non-streaming body)

Faults ``status`` and ``timeout`` happen before any byte; the others shape the body. A fault armed
with ``POST /_sim/fault`` (same keys plus ``count``) applies to requests naming neither a fault nor
a replay of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from opencompress.simulator.openai_errors import invalid_request

FAULTS = ("status", "timeout", "drop", "garbage", "no_done", "error_event", "slow", "hang_after")
DEFAULT_DELAY_S = {"timeout": 30.0, "slow": 0.2, "hang_after": 30.0}
DEFAULT_AFTER_CHUNKS = 3
_KEYS = {
    "replay",
    "fault",
    "status",
    "retry_after",
    "message",
    "delay_s",
    "after_chunks",
    "body",
    "latency_s",
}

DEFAULT_GARBAGE_SSE = (
    b'data: {"id":"chatcmpl-garbage","object":"chat.completion.chunk",'
    b'"choices":[{"index":0,"delta":{"content":"Hel\n\n'
    b"<html><body><h1>502 Bad Gateway</h1></body></html>\r\n"
    b"\x00\xff\xfe garbage \x80\x81\n\n"
    b"data: not json at all\n\n"
)
DEFAULT_GARBAGE_JSON = (
    b'{"id": "chatcmpl-garbage", "object": "chat.completion", "choices": [{"mes\x00\xff<html>'
)


@dataclass(frozen=True)
class SimulateSpec:
    """A parsed ``simulate`` object; every field optional."""

    replay: str | None = None
    fault: str | None = None
    status: int | None = None
    retry_after: float = 1.0
    message: str | None = None
    delay_s: float | None = None
    after_chunks: int | None = None
    body: str | None = None
    latency_s: float | None = None

    @property
    def delay(self) -> float:
        if self.delay_s is not None:
            return self.delay_s
        return DEFAULT_DELAY_S.get(self.fault or "", 0.0)

    @property
    def chunks_before_fault(self) -> int:
        return DEFAULT_AFTER_CHUNKS if self.after_chunks is None else self.after_chunks

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


NO_SIMULATION = SimulateSpec()


def _number(raw: Mapping[str, Any], key: str, *, low: float = 0.0) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise invalid_request(f"simulate.{key} must be a number >= {low:g}.", param=f"simulate.{key}")
    return float(value)


def _integer(raw: Mapping[str, Any], key: str, *, low: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid_request(f"simulate.{key} must be an integer >= {low}.", param=f"simulate.{key}")
    return value


def _string(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid_request(f"simulate.{key} must be a string.", param=f"simulate.{key}")
    return value


def parse_simulate(raw: Any, *, extra_keys: frozenset[str] = frozenset()) -> SimulateSpec:
    """Validate a ``simulate`` object (``None`` means no simulation)."""
    if raw is None:
        return NO_SIMULATION
    if not isinstance(raw, Mapping):
        raise invalid_request("simulate must be an object.", param="simulate")
    unknown = set(raw) - _KEYS - extra_keys
    if unknown:
        raise invalid_request(
            f"Unknown simulate keys: {', '.join(sorted(unknown))}. Known: {', '.join(sorted(_KEYS))}.",
            param="simulate",
        )
    fault = _string(raw, "fault")
    if fault is not None and fault not in FAULTS:
        raise invalid_request(
            f"Unknown simulate.fault {fault!r}; known: {', '.join(FAULTS)}.", param="simulate.fault"
        )
    status = _integer(raw, "status", low=100)
    if status is not None and status > 599:
        raise invalid_request("simulate.status must be an HTTP status code.", param="simulate.status")
    retry_after = _number(raw, "retry_after")
    return SimulateSpec(
        replay=_string(raw, "replay"),
        fault=fault,
        status=status,
        retry_after=1.0 if retry_after is None else retry_after,
        message=_string(raw, "message"),
        delay_s=_number(raw, "delay_s"),
        after_chunks=_integer(raw, "after_chunks", low=0),
        body=_string(raw, "body"),
        latency_s=_number(raw, "latency_s"),
    )
