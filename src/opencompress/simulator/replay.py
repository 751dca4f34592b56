"""Load real-provider recordings and turn them back into HTTP responses, byte for byte.

Recordings live in ``shared/data/wire/`` next to the repository (or wherever
``OPENCOMPRESS_WIRE_DIR`` points). Replaying them through a real socket lets parser and relay tests
run against exactly what OpenAI, Groq, vLLM, OpenRouter and Anthropic sent, quirks included (SSE
comment lines, padded JSON, missing ``[DONE]``, truncated bodies).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from opencompress.simulator.openai_errors import SimHTTPError

WIRE_DIR_ENV = "OPENCOMPRESS_WIRE_DIR"
KINDS = (".sse", ".json", ".http")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def default_recordings_dir() -> Path | None:
    """``$OPENCOMPRESS_WIRE_DIR``, else ``<repo>/../shared/data/wire``; None when it does not exist."""
    env = os.environ.get(WIRE_DIR_ENV)
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    repo_root = Path(__file__).resolve().parents[3]  # simulator -> opencompress -> src -> repo
    path = repo_root.parent / "shared" / "data" / "wire"
    return path if path.is_dir() else None


def list_recordings(root: Path) -> list[str]:
    """Every replayable recording under ``root`` as a posix path relative to it, sorted."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix in KINDS
    )


def resolve_recording(root: Path | None, name: str) -> Path:
    """The file for ``name``; 404 when absent, 400 when the path would leave ``root``."""
    if root is None:
        raise SimHTTPError(
            404,
            f"Recording {name!r} not found: the simulator has no recordings directory configured.",
            code="recording_not_found",
        )
    base = root.resolve()
    candidate = (base / name).resolve()
    if Path(name).is_absolute() or not candidate.is_relative_to(base):
        raise SimHTTPError(
            400,
            f"Invalid replay path {name!r}: it must stay inside the recordings directory.",
            param="simulate.replay",
            code="invalid_replay_path",
        )
    if not candidate.is_file():
        raise SimHTTPError(404, f"Recording {name!r} not found in {base}.", code="recording_not_found")
    if candidate.suffix not in KINDS:
        raise SimHTTPError(
            400,
            f"Cannot replay {name!r}: supported kinds are {', '.join(KINDS)}.",
            param="simulate.replay",
            code="invalid_replay_path",
        )
    return candidate


def split_sse_events(data: bytes) -> list[bytes]:
    """Split an SSE body after each blank line, keeping every byte (comments, padding, a ragged tail)."""
    events: list[bytes] = []
    start = 0
    while True:
        end = data.find(b"\n\n", start)
        if end < 0:
            break
        events.append(data[start : end + 2])
        start = end + 2
    if start < len(data):
        events.append(data[start:])
    return events


@dataclass(frozen=True)
class HttpDump:
    status: int
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def parse_http_dump(data: bytes) -> HttpDump:
    """Parse ``HTTP/2.0 400 Bad Request`` + headers + blank line + body, as curl-like tools print it.

    The capturing tool appended a newline after the body; when a ``Content-Length`` header is present
    the body is cut to that length, which is what actually went over the wire.
    """
    normalized = data.replace(b"\r\n", b"\n") if b"\r\n\r\n" in data else data
    head, _, body = normalized.partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise SimHTTPError(500, f"Malformed HTTP dump status line: {lines[0]!r}", type="server_error")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    lowered = {k.lower(): v for k, v in headers.items()}
    length = lowered.get("content-length", "")
    if length.isdigit() and int(length) <= len(body):
        body = body[: int(length)]
    extra = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP and k.lower() != "content-type"}
    return HttpDump(int(parts[1]), lowered.get("content-type", "application/json"), extra, body)
