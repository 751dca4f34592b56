"""The streaming relay: upstream SSE parser → alias restorer → usage tap → client encoder.

One async generator, one upstream event at a time; nothing is buffered beyond the single finish
chunk that must wait for usage. Usage placement follows the contract:

* the gateway always asks the upstream for usage (``stream_options.include_usage``);
* the client asked for it too → exactly one usage-only chunk (``choices: []``) before
  ``[DONE]``; per-chunk usage (vLLM's continuous usage) is removed so clients that sum usage
  count it once;
* the client did not → the last chunk carrying a ``finish_reason`` also carries ``usage``;
* no usage from the upstream (Groq puts it in ``x_groq.usage``; some send none) → read it where
  the provider put it, else count the relayed deltas with o200k.

After the first byte has gone out, any upstream failure (error event, dropped connection,
timeout, garbage, a stream that ends without ``[DONE]``) becomes exactly one
``data: {"error": …}`` event and the stream ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from opencompress.errors import UpstreamError
from opencompress.gateway.restore import ResponseRestorer
from opencompress.tokens import count_text
from opencompress.upstream.client import UpstreamResponse
from opencompress.wire.sse import DONE, DONE_EVENT, SSEDecoder, encode_data


@dataclass
class StreamTally:
    """What the relay observed; read by billing after the stream ends (however it ends)."""

    usage: dict[str, Any] | None = None
    relayed_text: list[str] = field(default_factory=list)
    first_byte_at: float | None = None
    status: str = "in_progress"
    upstream_model: str | None = None
    error_code: str | None = None
    """Why a started stream broke (``upstream_timeout``, ``upstream_incomplete_stream``…)."""

    def output_tokens(self) -> int:
        """Upstream-reported completion tokens, else an o200k count of what was relayed."""
        reported = reported_tokens(self.usage, "completion_tokens")
        return reported if reported is not None else count_text("".join(self.relayed_text))

    def prompt_tokens(self) -> int | None:
        return reported_tokens(self.usage, "prompt_tokens")


MAX_REPORTED_TOKENS = 100_000_000
"""No request processes more tokens than this (the largest context windows are ~2 M)."""


def reported_tokens(usage: dict[str, Any] | None, name: str) -> int | None:
    """A token count from the upstream's ``usage``, or ``None`` when it is missing or not believable.

    Billing trusts this figure, and with BYOK the upstream is whatever the client named: a
    negative count would make the charge invalid (the request then went unbilled), a huge one
    would overflow the database's 64-bit column. Such a figure is treated as absent, so the
    gateway's own counts are billed instead."""
    value = usage.get(name) if usage else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_REPORTED_TOKENS:
        return value
    return None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def error_event(message: str, *, type_: str = "upstream_error", code: str = "upstream_error") -> bytes:
    return encode_data(_dumps({"error": {"message": message, "type": type_, "code": code, "param": None}}))


def _usage_of(chunk: dict[str, Any]) -> dict[str, Any] | None:
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        return usage
    groq = chunk.get("x_groq")
    if isinstance(groq, dict) and isinstance(groq.get("usage"), dict):
        return dict(groq["usage"])
    return None


def collect_text(part: Any, sink: list[str]) -> None:
    """Append the generated text of a streamed ``delta`` or a whole ``message`` to ``sink``: content,
    refusal, tool-call names and arguments, i.e. what the completion tokens were spent on."""
    if not isinstance(part, dict):
        return
    for key in ("content", "refusal"):
        if isinstance(part.get(key), str):
            sink.append(part[key])
    for call in part.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            sink.extend(v for v in (function.get("name"), function.get("arguments")) if isinstance(v, str))


class ChatStreamRelay:
    """Relays one upstream stream to the client as OpenAI SSE bytes; see the module docstring."""

    def __init__(
        self,
        *,
        response: UpstreamResponse,
        request_id: str,
        client_wants_usage_chunk: bool,
        restorer: ResponseRestorer | None,
        fallback_prompt_tokens: int,
        tally: StreamTally,
    ) -> None:
        self._response = response
        self._id = request_id
        self._usage_chunk = client_wants_usage_chunk
        self._restorer = restorer
        self._fallback_prompt = fallback_prompt_tokens
        self.tally = tally
        self._pending_finish: dict[str, Any] | None = None
        self._template: dict[str, Any] = {}

    def _final_usage(self) -> dict[str, Any]:
        usage = dict(self.tally.usage or {})
        prompt = self.tally.prompt_tokens()
        if prompt is None:
            prompt = self._fallback_prompt
        completion = self.tally.output_tokens()
        usage.update(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        for extra in ("queue_time", "prompt_time", "completion_time", "total_time"):
            usage.pop(extra, None)
        return usage

    def _transform(self, chunk: dict[str, Any]) -> list[bytes]:
        """Handle one parsed upstream chunk; returns the events to send now (maybe none)."""
        usage = _usage_of(chunk)
        if usage is not None:
            self.tally.usage = usage
        choices = chunk.get("choices")
        if not choices:  # a usage-only chunk: re-emitted once at the end, in the client's placement
            return []
        chunk["id"] = self._id
        chunk.pop("usage", None)
        if not self._template:
            self._template = {k: chunk[k] for k in ("object", "created", "model") if k in chunk}
            self.tally.upstream_model = chunk.get("model")
        out: list[bytes] = []
        finishing = False
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            if self._restorer is not None:
                self._restorer.chunk(choice)
            collect_text(choice.get("delta"), self.tally.relayed_text)
            finishing = finishing or choice.get("finish_reason") is not None
        if self._pending_finish is not None:
            out.append(encode_data(_dumps(self._pending_finish)))
            self._pending_finish = None
        if finishing:
            self._pending_finish = chunk
        else:
            out.append(encode_data(_dumps(chunk)))
        return out

    def _closing_events(self) -> list[bytes]:
        usage = self._final_usage()
        out: list[bytes] = []
        if self._usage_chunk:
            if self._pending_finish is not None:
                out.append(encode_data(_dumps(self._pending_finish)))
            usage_chunk = {"id": self._id, **self._template, "choices": [], "usage": usage}
            usage_chunk.setdefault("object", "chat.completion.chunk")
            out.append(encode_data(_dumps(usage_chunk)))
        elif self._pending_finish is not None:
            self._pending_finish["usage"] = usage
            out.append(encode_data(_dumps(self._pending_finish)))
        self._pending_finish = None
        return out

    async def _chunks(self) -> AsyncIterator[dict[str, Any]]:
        """Parsed upstream chunks up to ``[DONE]``; a broken stream raises :class:`_StreamBroken`."""
        decoder = SSEDecoder()
        try:
            async for raw in self._response.chunks():
                if self.tally.first_byte_at is None:
                    self.tally.first_byte_at = time.perf_counter()
                for event in decoder.feed(raw):
                    if event.data == DONE:
                        return
                    if event.data:
                        yield _parse_chunk(event.data)
        except UpstreamError as exc:
            raise _StreamBroken(exc.message, exc.code) from None
        raise _StreamBroken(
            "The upstream stream ended without [DONE]; the answer may be incomplete.",
            "upstream_incomplete_stream",
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks():
                for out in self._transform(chunk):
                    yield out
        except _StreamBroken as broken:
            self.tally.status = "upstream_error"
            self.tally.error_code = broken.code
            for pending in self._closing_events():
                yield pending
            yield error_event(broken.message, code=broken.code)
            return
        for pending in self._closing_events():
            yield pending
        self.tally.status = "ok"
        yield DONE_EVENT


class _StreamBroken(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        chunk = None
    if not isinstance(chunk, dict):
        raise _StreamBroken("The upstream provider sent a malformed stream event.", "upstream_bad_response")
    if "error" in chunk and not chunk.get("choices"):
        raise _StreamBroken(_upstream_error_message(chunk["error"]), "upstream_stream_error")
    return chunk


def _upstream_error_message(error: Any) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return f"The upstream provider failed mid-stream: {error['message']}"
    if isinstance(error, str):
        return f"The upstream provider failed mid-stream: {error}"
    return "The upstream provider failed mid-stream."
