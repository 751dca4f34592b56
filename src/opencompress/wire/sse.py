"""Incremental Server-Sent Events decoding and encoding.

Upstreams split events anywhere (mid-line, mid-UTF-8 sequence), send comment lines
(``: OPENROUTER PROCESSING``), use ``\\r\\n`` or pad JSON with trailing spaces. The decoder works on
bytes, yields one :class:`SSEEvent` per blank-line-terminated event and ignores comments, so the
relay never has to hold more than one partial event.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

DONE = "[DONE]"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None


class SSEDecoder:
    """Feed bytes, get complete events. ``pending`` tells whether a partial event is buffered."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event: str | None = None

    @property
    def pending(self) -> bool:
        return bool(self._buffer.strip()) or bool(self._data)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += chunk
        events: list[SSEEvent] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                break
            raw = self._buffer[:newline]
            self._buffer = self._buffer[newline + 1 :]
            line = raw[:-1] if raw.endswith(b"\r") else raw
            event = self._line(line.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = SSEEvent(data="\n".join(self._data), event=self._event)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return None

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event not followed by a blank line still counts."""
        events = self.feed(b"\n") if self._buffer else []
        if self._data:
            events.extend(self.feed(b"\n"))
        return events


async def iter_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


def encode_data(data: str | bytes) -> bytes:
    """One ``data:`` event. ``data`` must not contain newlines (compact JSON never does)."""
    payload = data.encode() if isinstance(data, str) else data
    return b"data: " + payload + b"\n\n"


DONE_EVENT = encode_data(DONE)
