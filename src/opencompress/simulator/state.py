"""Per-app simulator state: the request log, counters, the global fault queue and shutdown.

Tests inspect what the gateway actually forwarded (``GET /_sim/requests``) and arm faults for
requests whose body they cannot change (``POST /_sim/fault``). The state is touched from the server's
event loop and, through :class:`~opencompress.simulator.runner.SimulatorThread`, from the test
thread, so mutations take a lock. Credentials are never stored: only whether one was present and a
sha256 prefix, enough for a test to check *which* key the gateway sent upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from opencompress.simulator.faults import SimulateSpec

MAX_LOGGED_REQUESTS = 100
HASH_PREFIX = 16
SENSITIVE_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie"})
COUNTERS = (
    "requests",
    "chat_requests",
    "connections",
    "replays",
    "faults_injected",
    "streams_started",
    "streams_completed",
    "streams_aborted",
    "streams_dropped",
    "active_streams",
    "held_requests",
)

GAUGES = ("active_streams", "held_requests")


def key_fingerprint(secret: str) -> str:
    """What the request log shows instead of a credential: ``sha256(secret).hexdigest()[:16]``."""
    return hashlib.sha256(secret.encode()).hexdigest()[:HASH_PREFIX]


def authorization_info(value: str | None) -> dict[str, Any]:
    if not value:
        return {"present": False, "scheme": None, "sha256_prefix": None}
    scheme, sep, token = value.partition(" ")
    if not sep:
        scheme, token = "", value
    return {"present": True, "scheme": scheme or None, "sha256_prefix": key_fingerprint(token.strip())}


class SimState:
    def __init__(self, *, recordings_dir: Path | None, latency_s: float, require_key: str | None) -> None:
        self.recordings_dir = recordings_dir
        self.latency_s = latency_s
        self.require_key = require_key
        self._lock = threading.Lock()
        self._log: deque[dict[str, Any]] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._clients: set[tuple[Any, ...]] = set()
        self._seq = 0
        self._fault: SimulateSpec | None = None
        self._fault_remaining = 0
        self.closing = False
        self._event: asyncio.Event | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None

    # -- counters and log -------------------------------------------------------------------------
    def count(self, name: str, delta: int = 1) -> None:
        with self._lock:
            self._counters[name] += delta

    def saw_request(self, client: Iterable[Any] | None, *, chat: bool) -> int:
        """Count one request (and its connection); returns its sequence number."""
        with self._lock:
            self._seq += 1
            self._counters["requests"] += 1
            if chat:
                self._counters["chat_requests"] += 1
            if client is not None:
                address = tuple(client)
                if address not in self._clients:
                    self._clients.add(address)
                    self._counters["connections"] += 1
            return self._seq

    def record(
        self, seq: int, method: str, path: str, headers: Mapping[str, str], raw: bytes, body: Any
    ) -> None:
        shown = {
            name: ("sha256:" + key_fingerprint(value) if name.lower() in SENSITIVE_HEADERS else value)
            for name, value in headers.items()
        }
        entry: dict[str, Any] = {
            "seq": seq,
            "received_at": time.time(),
            "method": method,
            "path": path,
            "body": body,
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "authorization": authorization_info(headers.get("authorization")),
            "headers": shown,
        }
        if body is None:
            entry["raw"] = raw[:65536].decode("utf-8", errors="replace")
        with self._lock:
            self._log.append(entry)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": list(self._log), "counters": dict(self._counters)}

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def clear(self) -> None:
        """Forget logged requests and zero the counters (the live gauges keep their values)."""
        with self._lock:
            gauges = {name: self._counters[name] for name in GAUGES}
            self._log.clear()
            self._clients.clear()
            self._counters = dict.fromkeys(COUNTERS, 0)
            self._counters.update(gauges)

    # -- global fault queue -----------------------------------------------------------------------
    def set_fault(self, spec: SimulateSpec, count: int) -> None:
        """Apply ``spec`` to the next ``count`` chat requests (``-1``: until cleared)."""
        with self._lock:
            self._fault, self._fault_remaining = spec, count

    def clear_fault(self) -> None:
        with self._lock:
            self._fault, self._fault_remaining = None, 0

    def armed_fault(self) -> dict[str, Any] | None:
        with self._lock:
            if self._fault is None:
                return None
            return {"fault": self._fault.to_dict(), "remaining": self._fault_remaining}

    def effective(self, own: SimulateSpec) -> SimulateSpec:
        """The request's own spec, or the armed global fault when the request names none."""
        if own.fault is not None or own.replay is not None:
            return own
        with self._lock:
            armed = self._fault
            if armed is None:
                return own
            if self._fault_remaining > 0:
                self._fault_remaining -= 1
                if self._fault_remaining == 0:
                    self._fault = None
        if own.latency_s is not None:
            armed = replace(armed, latency_s=own.latency_s)
        return armed

    # -- pacing and shutdown ----------------------------------------------------------------------
    def _closing_event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._event is None or self._event_loop is not loop:
            self._event, self._event_loop = asyncio.Event(), loop
            if self.closing:
                self._event.set()
        return self._event

    def begin_close(self) -> None:
        """Wake every paced or hung response so shutdown is prompt (call in the server's loop)."""
        self.closing = True
        if self._event is not None:
            self._event.set()

    def reopen(self) -> None:
        self.closing = False
        self._event = None
        self._event_loop = None

    async def pause(self, seconds: float) -> bool:
        """Sleep ``seconds``; False when cut short because the simulator is shutting down."""
        if self.closing:
            return False
        if seconds <= 0:
            return True
        event = self._closing_event()
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return True
        return False
