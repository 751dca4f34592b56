"""Structured JSON logs: one object per line, the request id on every line, secrets never.

What is logged is decided where the line is written (the request line carries ids, token counts
and timings, never the prompt unless ``settings.log_content``), and the handler masks anything
that looks like an API key or a bearer token in every line as a safety net — a developer's
``log.debug("%s", headers)`` must not become a credential leak.

The request id comes from :data:`CURRENT_REQUEST`, a context variable the HTTP layer sets per
request; asyncio copies context into tasks, so lines from background work started by a request
(settling a stream) carry its id too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

SECRET_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{8,}")
BEARER_PATTERN = re.compile(r"(?i)\bbearer(\s+|%20)[A-Za-z0-9._~+/=-]+")
MASK = "sk-***"
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "fields",
    "request_id",
    "color_message",  # uvicorn's ANSI-coloured duplicate of msg
}


@dataclass
class RequestScope:
    """What the gateway learnt about the current HTTP request, for its log line and metrics.

    ``handled`` flips once the chat use case owns the request (auth, validation and limits
    passed): from then on billing writes the request's line and metrics when it settles, so
    they can carry tokens and the charge; earlier rejections are written by the HTTP layer.
    """

    request_id: str
    method: str
    path: str
    started: float
    key_id: str | None = None
    model: str | None = None
    model_label: str | None = None
    """``model`` as a bounded metrics label (the price table's name, or ``other``)."""
    handled: bool = False


CURRENT_REQUEST: ContextVar[RequestScope | None] = ContextVar("opencompress_request", default=None)


def current_request() -> RequestScope | None:
    return CURRENT_REQUEST.get()


def current_request_id() -> str | None:
    scope = CURRENT_REQUEST.get()
    return None if scope is None else scope.request_id


def redact(text: str) -> str:
    """Mask API keys (``sk-…``) and bearer tokens wherever they appear in ``text``."""
    if "sk-" in text:
        text = SECRET_PATTERN.sub(MASK, text)
    if "earer" in text or "EARER" in text:
        text = BEARER_PATTERN.sub(lambda m: m.group(0)[:6] + " ***", text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (args merged in) with :func:`redact` before any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "request_id", …fields, "exc"}`` on one line, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            line["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        for name, value in record.__dict__.items():  # plain ``extra={...}`` keys
            if name not in _RESERVED and not name.startswith("_"):
                line.setdefault(name, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return redact(json.dumps(line, ensure_ascii=False, default=str))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BARE_VALUE = re.compile(r'[^\s"=\x00-\x1f\x7f-\x9f]*')


def _escape_controls(text: str) -> str:
    """Control characters as ``\\xNN``: a client's model name must not start a fake log line or send
    escape sequences to the operator's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _field_value(value: Any) -> str:
    """A ``key=value`` value that reads back unambiguously: quoted when it holds spaces, quotes or
    ``=`` (``model="gpt status=ok"`` forges no second field), control characters escaped."""
    text = str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    return '"' + _escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal (``log_format = "text"``), still redacted. One record is
    one line: control characters in the message and the fields are escaped (a traceback, added
    after, keeps its own lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _escape_controls(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = current_request_id()
        fields = getattr(record, "fields", None)
        extra = (
            " ".join(f"{k}={_field_value(v)}" for k, v in fields.items()) if isinstance(fields, dict) else ""
        )
        prefix = f"[{request_id}] " if request_id and request_id not in text else ""
        return redact(f"{prefix}{text} {extra}".rstrip())


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def make_handler(log_format: str = "json", stream: Any = None) -> logging.Handler:
    """A stream handler with the redaction filter and the JSON (or text) formatter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def configure_logging(level: str = "info", log_format: str = "json") -> logging.Handler:
    """Route every logger (ours, uvicorn's, aiohttp's) through one redacting handler on the root.

    Called by ``opencompress serve``; library code and tests never configure global logging."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(log_format)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    return handler
