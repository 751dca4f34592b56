"""Validation of ``/v1/chat/completions`` bodies: enough for OpenAI-style 400s, nothing more.

The body is otherwise passed through untouched — unknown fields, ``tools``, ``tool_choice``,
``response_format``, ``n``, ``logprobs``, multi-part content — because the upstream, not the
gateway, owns the model's API surface. Only the gateway's own field ``compression`` is removed
before forwarding.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opencompress.compression import LEVELS, Level
from opencompress.errors import InvalidRequestError

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_INT_FIELDS = ("n", "max_tokens", "max_completion_tokens")
LEVEL_HEADER = "x-opencompress-level"
_COMPRESSION_FIELDS = frozenset({"level", "rate"})
MAX_JSON_DEPTH = 128
"""Deepest nesting accepted. Python's JSON codec recurses, so a body nested ~1,000 levels deep
raises RecursionError (a 500) on parsing, and one just under that can fail later when re-encoded
for the upstream on a deeper stack; real chat bodies (tool schemas included) stay far below."""
MAX_MODEL_CHARS = 256
"""Model ids are short (OpenRouter's and Hugging Face's ``org/name`` ids included); the name is
stored on every usage row and echoed in the answer, so a megabyte of it is refused up front."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""No model id has one. PostgreSQL cannot store NUL in text, so a name with one would be answered
and then fail its usage row: a free request. A newline or escape would reach logs and terminals."""


def _plain_utf8(raw: bytes) -> bool:
    """Is ``raw`` UTF-8 without a byte-order mark (what ``json.detect_encoding`` calls ``utf-8``)?"""
    return json.detect_encoding(raw) == "utf-8"


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    body: dict[str, Any]
    """The client's body without the ``compression`` field."""
    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    """The client asked for ``stream_options.include_usage``."""
    level: Level | None
    rate: float | None
    max_output_tokens: int | None
    raw: bytes | None = None
    """The client's bytes, when ``body`` is exactly what they encode (no ``compression`` field was
    removed): forwarding them as they are keeps the body untouched down to number formatting and
    key order, and skips re-encoding it."""


def _too_deep(raw: bytes, value: Any) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:  # C-speed bound: most bodies stop here
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative, so the check itself cannot overflow the stack
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _has_lone_surrogate(body: dict[str, Any]) -> bool:
    """Paired ``\\ud83d\\ude00`` escapes decode to one character; an unpaired one (escaped, or raw
    bytes ``ED A0..BF ..``, which ``json.loads`` decodes with ``surrogatepass``) cannot be encoded
    as UTF-8, so forwarding the body (or logging it) would fail later as a 500."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _too_deep_error() -> InvalidRequestError:
    return InvalidRequestError(
        f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.", code="invalid_json"
    )


class _NonStandardNumber(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    """Python's codec accepts ``NaN``/``Infinity``; JSON does not, and strict upstreams reject them."""
    raise _NonStandardNumber(name)


def _finite_float(text: str) -> float:
    """``1e999`` parses to ``inf``, which re-encodes as ``Infinity``: not JSON either."""
    value = float(text)
    if math.isinf(value):
        raise _NonStandardNumber(f"{text[:20]} (out of range)")
    return value


_STRICT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
"""Built once: ``json.loads`` with hooks would build a decoder (and its scanner) per call."""


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        # as json.loads does for bytes: detected UTF-8/16/32, lone surrogates passed through
        # (they are reported below with a clear message)
        body = _STRICT.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except RecursionError:
        raise _too_deep_error() from None
    except _NonStandardNumber as exc:
        raise InvalidRequestError(
            f"The JSON body contains {exc}, which is not a valid JSON number.", code="invalid_json"
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError(
            "We could not parse the JSON body of your request. Send valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.", code="invalid_body")
    if _too_deep(raw, body):
        raise _too_deep_error()
    if (b"\\ud" in raw or b"\\uD" in raw or b"\xed" in raw) and _has_lone_surrogate(body):
        raise InvalidRequestError(
            "The JSON body contains an unpaired UTF-16 surrogate escape (such as \\ud800), which is not "
            "valid Unicode text.",
            code="invalid_json",
        )
    return body


def model_name_problem(model: str) -> str | None:
    """Why ``model`` cannot be a model name, or ``None``: one rule for chat requests and
    ``GET /v1/models/{id}``, so the catalog never calls a name available that chat refuses. A
    control character (a NUL is refused by PostgreSQL's text columns) would leave the usage row
    unwritable after the answer went out."""
    if len(model) > MAX_MODEL_CHARS:
        return f"must be at most {MAX_MODEL_CHARS} characters"
    if _CONTROL.search(model):
        return "must not contain control characters"
    return None


def _fail(message: str, param: str, code: str = "invalid_type") -> InvalidRequestError:
    return InvalidRequestError(message, code=code, param=param)


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise _fail("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        raise _fail("'messages' must be an array of message objects.", "messages")
    if not messages:
        raise _fail("'messages' must contain at least one message.", "messages", "empty_array")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _fail(f"'messages[{i}]' must be an object.", f"messages[{i}]")
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise _fail(
                f"'messages[{i}].role' must be one of {sorted(_ROLES)}.",
                f"messages[{i}].role",
                "invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _fail(
                f"'messages[{i}].content' must be a string or an array of parts.", f"messages[{i}].content"
            )
        if isinstance(content, list) and not all(isinstance(p, dict) for p in content):
            raise _fail(f"'messages[{i}].content' parts must be objects.", f"messages[{i}].content")
    return messages


def _compression_controls(
    body: dict[str, Any], header_level: str | None
) -> tuple[Level | None, float | None]:
    level: Any = header_level.strip().lower() if header_level else None
    source = LEVEL_HEADER if header_level else "compression.level"  # what the error should point at
    rate: Any = None
    spec = body.pop("compression", None)
    if spec is not None:
        if isinstance(spec, str):
            spec = {"level": spec}
        if not isinstance(spec, dict):
            raise _fail('\'compression\' must be an object such as {"level": "balanced"}.', "compression")
        unknown = sorted(set(spec) - _COMPRESSION_FIELDS)
        if unknown:
            raise _fail(
                f"Unknown field {unknown[0]!r} in 'compression'; known fields: level, rate.",
                f"compression.{unknown[0]}",
                "unknown_parameter",
            )
        if "level" in spec:
            level, source = spec["level"], "compression.level"
        if isinstance(level, str):
            level = level.strip().lower()  # as for the header: "Balanced" means balanced
        rate = spec.get("rate")
    if level is not None and level not in LEVELS:
        raise _fail(f"Compression level must be one of {list(LEVELS)}.", source, "invalid_value")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise _fail("'compression.rate' must be a number in (0, 1].", "compression.rate", "invalid_value")
        rate = float(rate)
    return level, rate


def parse_chat_request(raw: bytes, headers: Mapping[str, str]) -> ChatRequest:
    return parse_chat_body(parse_json_object(raw), headers, raw=raw)


def parse_chat_body(
    body: dict[str, Any], headers: Mapping[str, str], *, raw: bytes | None = None
) -> ChatRequest:
    """Validate an already-parsed body; removes the gateway's own ``compression`` field. ``raw``:
    the bytes ``body`` was parsed from (kept only if the body stays as they encode it)."""
    body = dict(body)
    # Forward the client's bytes only when they are what the gateway would send anyway: not after
    # removing ``compression``, and not in UTF-16/32 or behind a BOM, which strict JSON parsers
    # upstream (RFC 8259: UTF-8 only) refuse although this gateway accepted them.
    keep_raw = raw if "compression" not in body and raw is not None and _plain_utf8(raw) else None
    model = body.get("model")
    if model is None:
        raise _fail("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    if not isinstance(model, str) or not model.strip():
        raise _fail("'model' must be a non-empty string.", "model")
    problem = model_name_problem(model)
    if problem:
        raise _fail(f"'model' {problem}.", "model", "invalid_value")
    messages = _check_messages(body.get("messages"))
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise _fail("'stream' must be a boolean.", "stream")
    for name in _INT_FIELDS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise _fail(f"'{name}' must be a positive integer.", name)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise _fail("'stream_options' must be an object.", "stream_options")
    if (
        options
        and options.get("include_usage") is not None
        and not isinstance(options["include_usage"], bool)
    ):
        raise _fail("'stream_options.include_usage' must be a boolean.", "stream_options.include_usage")
    level, rate = _compression_controls(body, headers.get(LEVEL_HEADER))
    max_out = body.get("max_completion_tokens") or body.get("max_tokens")
    return ChatRequest(
        body=body,
        model=model,
        messages=messages,
        stream=bool(stream),
        include_usage=bool(options and options.get("include_usage")),
        level=level,
        rate=rate,
        max_output_tokens=max_out if isinstance(max_out, int) else None,
        raw=keep_raw,
    )
