"""Incremental Server-Sent Events decoding and encoding.

Upstreams split events anywhere (mid-line, mid-UTF-8 sequence, between the ``\\r`` and ``\\n`` of a
line ending), send comment lines (``: OPENROUTER PROCESSING``), end lines with ``\\r\\n``, ``\\n`` or a
lone ``\\r`` (all three are valid SSE line terminators), may start with a UTF-8 byte-order mark and
may end without the final blank line. The decoder works on bytes, yields one :class:`SSEEvent` per
blank-line-terminated event, and notes comment lines in :attr:`SSEDecoder.comment` so the relay can
pass a keep-alive on; call :meth:`SSEDecoder.close` at end of stream so a last event without its
blank line still counts.

The work is linear in the bytes fed, whatever the chunking: a chunk is split once, and a line that
spans chunks is kept as a list of pieces joined once when its end arrives. Chunks without ``\\r``
(nearly all of them) skip line-ending normalisation after a single ``in`` scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

DONE = "[DONE]"
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None


class SSEDecoder:
    """Feed bytes, get complete events. ``pending`` tells whether a partial event is buffered.

    ``comment`` becomes ``True`` when a comment line (``:`` first) was read; the reader clears it.
    An ``event: error`` block with no ``data`` is still returned (with ``data == ""``): the SSE spec
    would drop it, but an error signal must never be lost on its way to the client."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # pieces of the current, not yet terminated line
        self._data: list[str] = []
        self._event: str | None = None
        self._after_cr = False  # the last chunk ended with "\r": a "\n" opening the next one is its pair
        self._first_line = True  # a byte-order mark may open the first line
        self.comment = False

    @property
    def pending(self) -> bool:
        return any(piece.strip() for piece in self._partial) or bool(self._data)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._after_cr or b"\r" in chunk:
            chunk = self._normalise(chunk)
        if b"\n" not in chunk:
            if chunk:
                self._partial.append(chunk)
            return []
        lines = chunk.split(b"\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial = []
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        return self._lines(lines)

    def close(self) -> list[SSEEvent]:
        """End of stream: the unterminated last line and the event in progress still count."""
        lines = [b"".join(self._partial), b""] if self._partial else [b""]
        self._partial = []
        self._after_cr = False
        return self._lines(lines)

    def _normalise(self, chunk: bytes) -> bytes:
        """Every line ending as ``\\n``; a ``\\r\\n`` split across two chunks counts once."""
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._after_cr = chunk[-1:] == b"\r"
        return chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        if self._first_line:
            self._first_line = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][len(_BOM) :]
        events: list[SSEEvent] = []
        for line in lines:
            if not line:  # a blank line ends the event
                if self._data:
                    data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
                    events.append(SSEEvent(data, self._event))
                    self._data = []
                elif self._event == "error":
                    events.append(SSEEvent("", self._event))
                self._event = None
            elif line.startswith(b"data:"):
                value = line[6:] if line[5:6] == b" " else line[5:]
                self._data.append(value.decode("utf-8", errors="replace"))
            elif line.startswith(b":"):
                self.comment = True
            else:
                name, _, value = line.partition(b":")
                if name == b"event":
                    self._event = (value[1:] if value[:1] == b" " else value).decode(
                        "utf-8", errors="replace"
                    )
                elif name == b"data":  # a bare "data" line is an empty data line
                    self._data.append("")
                # "id", "retry" and unknown fields mean nothing to a relay
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
KEEPALIVE_EVENT = b": keep-alive\n\n"
"""An SSE comment: resets idle timers in clients and proxies, and every SSE client ignores it."""
