"""What a client may see of an upstream 4xx: all of it for BYOK, less of it in router mode.

An upstream 4xx is normally relayed with its status and body, so the SDK raises the right
exception (``context_length_exceeded`` → ``BadRequestError``, 429 → ``RateLimitError`` with the
provider's back-off). In router mode, though, the request went out with the *operator's*
provider key, and two kinds of answer are about the operator, not the client:

* 401/403: the operator's provider key was rejected (wrong, revoked, out of quota, project not
  allowed). Relayed as is, the SDK would raise ``AuthenticationError`` and the client would
  conclude its own ``sk-occ`` key is bad. It becomes a 502 ``upstream_auth_error``, and the
  operator learns the reason from the log (status, type and code; the message is left out, as
  providers quote part of the key in it).
* any other 4xx may quote the operator's key (whole, or masked but partly visible) or
  organization and project ids in its message: those are replaced with ``***`` (see
  :class:`Scrubber`); everything else is kept byte for byte. The same goes for an error the
  upstream sends in the middle of a stream.

With BYOK the key is the client's own, so the answer is the client's business: relayed untouched.

A streaming request answered with a JSON body instead of an event stream (a provider reporting an
error with HTTP 200, or a server that ignores ``stream``) has nothing to relay as SSE: it becomes
a 502 that quotes the provider's error message, scrubbed the same way.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from opencompress.errors import OpenCompressError, UpstreamError, UpstreamStatusError

log = logging.getLogger("opencompress.upstream")

_OPERATOR_DETAILS = re.compile(rb"\b((?:sk|gsk|xai|pplx|nvapi|org|proj)[-_])[A-Za-z0-9*_-]{3,}")
"""Key and account id fragments as providers quote them: OpenAI, OpenRouter, Anthropic and
DeepSeek keys (``sk-``), Groq's (``gsk_``), xAI's, Perplexity's, NVIDIA's, organization and project ids."""
_BEARER = re.compile(rb"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
"""A bearer credential quoted back (8+ token characters, so "the bearer token is invalid" stays)."""


class Scrubber:
    """Removes from upstream text relayed to a client what identifies the operator's provider
    account: the configured key itself, whatever its form (a provider whose keys have no known
    prefix included), any bearer token, and the fragments :data:`_OPERATOR_DETAILS` names."""

    def __init__(self, operator_key: str | None) -> None:
        self._key = operator_key.encode() if operator_key and len(operator_key) >= 8 else None

    def bytes(self, text: bytes) -> bytes:
        if self._key is not None:
            text = text.replace(self._key, b"***")
        return _OPERATOR_DETAILS.sub(rb"\1***", _BEARER.sub(rb"\1***", text))

    def text(self, text: str) -> str:
        return self.bytes(text.encode()).decode()


def _summary(body: bytes) -> str:
    """``type``/``code`` of an OpenAI-style error body, for the operator's log line."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return "a non-JSON body"
    if not isinstance(error, dict):
        return "no error object"
    return f"type={error.get('type')!r} code={error.get('code')!r}"


def refusal_for_client(exc: UpstreamStatusError, *, scrubber: Scrubber | None) -> OpenCompressError:
    """The error to send the client for the upstream's 4xx ``exc`` (see the module docstring).
    ``scrubber``: the operator's, in router mode; ``None`` with BYOK (the client's own key)."""
    if scrubber is None:
        return exc
    if exc.upstream_status in (401, 403):
        log.warning(
            "the upstream refused the operator's provider key with HTTP %d (%s): check "
            "OPENCOMPRESS_UPSTREAM_API_KEY and the provider account",
            exc.upstream_status,
            _summary(exc.body),
        )
        return UpstreamError(
            "The upstream provider refused the gateway's credentials. This is not a problem with "
            "your API key; the gateway's operator has to fix it.",
            code="upstream_auth_error",
        )
    scrubbed = scrubber.bytes(exc.body)
    if scrubbed == exc.body:
        return exc
    return UpstreamStatusError(exc.upstream_status, scrubbed, exc.content_type, headers=exc.extra_headers)


def error_said(error: Any) -> str | None:
    """What an upstream ``error`` value says: its ``message``, or the error itself when it is a
    string (both forms occur in providers' error bodies and mid-stream error events)."""
    said = error.get("message") if isinstance(error, dict) else error
    return said if isinstance(said, str) else None


def json_instead_of_stream(payload: bytes, *, scrubber: Scrubber | None) -> UpstreamError:
    """The error for a streaming request the upstream answered with the JSON ``payload``."""
    try:
        said = error_said(json.loads(payload).get("error"))
    except (ValueError, AttributeError):
        said = None
    if said is not None and said.strip():
        shown = said if scrubber is None else scrubber.text(said)
        return UpstreamError(f"The upstream provider answered with an error: {shown[:500]}")
    return UpstreamError(
        "The upstream provider answered a streaming request with a JSON body, not an event stream.",
        code="upstream_bad_response",
    )
