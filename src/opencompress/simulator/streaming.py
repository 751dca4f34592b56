"""Paced response bodies with injected stream faults.

Faults must be *real* on the socket, because the gateway's relay is what is under test: a ``drop``
raises :class:`SimulatedDrop` inside the body generator after the response started, so uvicorn
closes the TCP connection without the chunked-encoding terminator (the client sees an incomplete
body, exactly like a crashed upstream). The log line uvicorn writes for that is filtered out, since
it is the intended outcome and not an error of the simulator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from opencompress.simulator.faults import SimulateSpec
from opencompress.simulator.openai_errors import SERVER_ERROR_MESSAGE
from opencompress.simulator.state import SimState

_UVICORN_ERROR_LOGGER = "uvicorn.error"


class SimulatedDrop(Exception):
    """Raised mid-body to make uvicorn abort the connection (the ``drop`` fault)."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SimulatedDrop)


def install_drop_log_filter() -> None:
    """Silence uvicorn's "Exception in ASGI application" for deliberate drops only (idempotent)."""
    logger = logging.getLogger(_UVICORN_ERROR_LOGGER)
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


class SimStreamingResponse(StreamingResponse):
    """A StreamingResponse that always closes its generator, so stream counters stay exact."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


def error_event(message: str | None) -> bytes:
    """The mid-stream error event, byte-identical in shape to the recorded OpenAI one."""
    body = {"error": {"message": message or SERVER_ERROR_MESSAGE, "type": "server_error"}}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


async def paced_body(
    events: Sequence[bytes],
    *,
    trailer: bytes | None,
    spec: SimulateSpec,
    latency_s: float,
    state: SimState,
    counted: bool = True,
) -> AsyncIterator[bytes]:
    """Yield ``events`` (then ``trailer``, e.g. ``data: [DONE]``) applying ``spec``'s stream fault."""
    fault = spec.fault
    cut = (
        min(spec.chunks_before_fault, len(events)) if fault in ("drop", "error_event", "hang_after") else None
    )
    if fault == "slow":
        latency_s += spec.delay
    outcome = "streams_aborted"
    if counted:
        state.count("streams_started")
        state.count("active_streams")
    try:
        for position in range(len(events) + 1):
            if position == cut:
                if fault == "drop":
                    outcome = "streams_dropped"
                    raise SimulatedDrop(f"simulated drop after {cut} chunks")
                if fault == "error_event":
                    yield error_event(spec.message)
                    outcome = "streams_completed"
                    return
                if not await state.pause(spec.delay):  # hang_after
                    outcome = "streams_dropped"
                    raise SimulatedDrop("simulator shutting down during hang_after")
            if position == len(events):
                break
            if latency_s > 0 and not await state.pause(latency_s):
                outcome = "streams_dropped"
                raise SimulatedDrop("simulator shutting down")
            yield events[position]
        if trailer is not None and fault != "no_done":
            yield trailer
        outcome = "streams_completed"
    finally:
        if counted:
            state.count("active_streams", -1)
            state.count(outcome)
