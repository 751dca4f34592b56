"""The streaming relay: upstream SSE parser → alias restorer → usage tap → client encoder.

One async generator, one upstream event at a time; nothing is buffered beyond the single finish
chunk that must wait for usage. Usage placement follows the contract:

* the gateway always asks the upstream for usage (``stream_options.include_usage``);
* the client asked for it too → exactly one usage-only chunk (``choices: []``) before
  ``[DONE]``, with every top-level field the upstream put on its own usage chunk
  (``system_fingerprint``, ``service_tier``…); other chunks keep OpenAI's ``"usage": null``, and
  per-chunk usage values (vLLM's continuous usage) become ``null`` so clients that sum usage
  count it once;
* the client did not → the last chunk carrying a ``finish_reason`` also carries ``usage``;
* no usage from the upstream (Groq puts it in ``x_groq.usage``; some send none) → read it where
  the provider put it, else count the relayed deltas with o200k. A ``usage`` object without
  OpenAI's ``prompt_tokens``/``completion_tokens`` (an Anthropic-style ``output_tokens``) is not
  usage in this API: it is ignored, so the gateway's own counts are billed and sent;
* a chunk without choices or usage is relayed only if it carries something beyond the standard
  fields (Azure's opening ``prompt_filter_results``).

After the first byte has gone out, any upstream failure (an ``event: error`` event, a chunk
with a top-level ``error`` object — OpenRouter's mid-stream error also carries
``finish_reason: "error"`` —, a dropped connection, a timeout, garbage, a stream that ends
without ``[DONE]``) becomes exactly one ``data: {"error": …}`` event and the stream ends. Text the
alias restorer still holds is sent first; usage is sent only if the upstream had already sent
its final usage (OpenAI sends none on a broken stream, and the gateway makes none up).

Upstream SSE comments (OpenRouter's ``: OPENROUTER PROCESSING`` while a request is queued) are
passed on as one ``: keep-alive`` comment per network read that brought nothing else, so idle
timers in clients and proxies do not cut a queued request. A fixed text, not the upstream's:
it names no provider, and needs no re-encoding or validation.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from opencompress.errors import UpstreamError
from opencompress.gateway.restore import TEXT_FIELDS, ResponseRestorer
from opencompress.gateway.upstream_refusals import Scrubber, error_said
from opencompress.tokens import count_text
from opencompress.upstream.client import UpstreamResponse
from opencompress.wire.sse import DONE, DONE_EVENT, KEEPALIVE_EVENT, SSEDecoder, SSEEvent, encode_data


@dataclass
class StreamTally:
    """What the relay observed; read by billing after the stream ends (however it ends)."""

    usage: dict[str, Any] | None = None
    relayed_text: list[str] = field(default_factory=list)
    first_byte_at: float | None = None
    status: str = "in_progress"
    answered: bool = False
    """A choice reached the client (a streamed chunk with choices, even a bare role chunk, or the
    whole answer): the model has processed the prompt, so its input is billed."""
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


_GATEWAY_OWNED = frozenset({"id", "choices", "usage", "x_groq"})
"""Top-level chunk fields the gateway sets itself on the usage chunk it rebuilds (``x_groq``
holds Groq's own usage); every other field is kept as the upstream sent it."""


_STANDARD_FIELDS = frozenset(
    {"id", "object", "created", "model", "system_fingerprint", "service_tier", "provider", "choices", "usage"}
)
"""Fields every chunk may carry. A chunk without choices or usage that has any other field
(Azure OpenAI opens its streams with one holding ``prompt_filter_results``) is relayed as it
came; one with nothing else in it tells the client nothing and is dropped."""


def _head_of(chunk: dict[str, Any]) -> dict[str, Any]:
    """The chunk's top-level fields that the rebuilt usage chunk keeps (see :data:`_GATEWAY_OWNED`)."""
    return {k: v for k, v in chunk.items() if k not in _GATEWAY_OWNED}


def is_openai_usage(usage: Any) -> bool:
    """Is ``usage`` an OpenAI usage object (not ``null``, not another API's shape)?"""
    return isinstance(usage, dict) and ("completion_tokens" in usage or "prompt_tokens" in usage)


def collect_text(part: Any, sink: list[str]) -> None:
    """Append the generated text of a streamed ``delta`` or a whole ``message`` to ``sink``: content,
    refusal, reasoning, tool-call and function-call names and arguments, i.e. what the completion
    tokens were spent on."""
    if not isinstance(part, dict):
        return
    for key in TEXT_FIELDS:
        value = part.get(key)
        if isinstance(value, str):
            sink.append(value)
    for call in part.get("tool_calls") or ():
        if isinstance(call, dict):
            _collect_call(call.get("function"), sink)
    _collect_call(part.get("function_call"), sink)  # the legacy form, answering ``functions``


def _collect_call(function: Any, sink: list[str]) -> None:
    if isinstance(function, dict):
        for value in (function.get("name"), function.get("arguments")):
            if isinstance(value, str):
                sink.append(value)


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
        scrubber: Scrubber | None = None,
    ) -> None:
        self._response = response
        self._id = request_id
        self._usage_chunk = client_wants_usage_chunk
        self._restorer = restorer
        self._fallback_prompt = fallback_prompt_tokens
        self.tally = tally
        self._scrubber = scrubber
        """The operator's (router mode): an upstream's mid-stream error message may quote its key."""
        self._pending_finish: dict[str, Any] | None = None
        self._head: dict[str, Any] | None = None
        """Top-level fields for the usage chunk: those of the chunk that brought the upstream's
        final usage (its usage-only chunk, or Groq's finish chunk), else of its first chunk."""
        self._final_usage_seen = False
        """The upstream sent its usage on a usage-only or finishing chunk (not just a running count)."""

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
        usage: Any = None
        if "usage" in chunk:
            usage = chunk["usage"]
            if not self._usage_chunk:
                del chunk["usage"]
            elif usage is not None:
                chunk["usage"] = None  # the one usage chunk at the end carries it
        if usage is None and "x_groq" in chunk:
            groq = chunk["x_groq"]
            usage = (
                dict(groq["usage"])
                if isinstance(groq, dict) and isinstance(groq.get("usage"), dict)
                else None
            )
        noted = is_openai_usage(usage)
        if noted:
            self.tally.usage = usage
        choices = chunk.get("choices")
        if not choices:
            return self._choiceless(chunk, usage_noted=noted)
        chunk["id"] = self._id
        self.tally.answered = True
        if self._head is None:
            self._head = _head_of(chunk)
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
            if noted:  # Groq's x_groq.usage, vLLM's last running count: the final usage
                self._final_usage_seen = True
                self._head = _head_of(chunk)
        else:
            out.append(encode_data(_dumps(chunk)))
        return out

    def _choiceless(self, chunk: dict[str, Any], *, usage_noted: bool) -> list[bytes]:
        """A chunk without choices: a usage-only chunk is re-emitted once at the end, in the
        client's placement; one with other information (Azure's ``prompt_filter_results``) is
        relayed now; an empty one is dropped."""
        if usage_noted:
            self._head = _head_of(chunk)
            self._final_usage_seen = True
        elif chunk.keys() - _STANDARD_FIELDS:
            chunk["id"] = self._id
            return [encode_data(_dumps(chunk))]
        return []

    def _held_text(self) -> list[bytes]:
        """The text the alias restorer still holds (a choice that never finished), as one chunk."""
        held = self._restorer.flush_all() if self._restorer is not None else []
        if not held:
            return []
        for choice in held:
            collect_text(choice["delta"], self.tally.relayed_text)
        return [encode_data(_dumps({"id": self._id, **(self._head or {}), "choices": held}))]

    def _closing_events(self, *, broken: bool) -> list[bytes]:
        """What precedes ``[DONE]`` or the error event: the held finish chunk, held alias text and
        usage in the client's placement (on a broken stream only the upstream's own final usage)."""
        usage = self._final_usage() if not broken or self._final_usage_seen else None
        out: list[bytes] = []
        pending, self._pending_finish = self._pending_finish, None
        if pending is not None:
            if usage is not None and not self._usage_chunk:
                pending["usage"] = usage
            out.append(encode_data(_dumps(pending)))
        out.extend(self._held_text())
        if usage is not None and self._usage_chunk:
            usage_chunk = {"id": self._id, **(self._head or {}), "choices": [], "usage": usage}
            usage_chunk.setdefault("object", "chat.completion.chunk")
            out.append(encode_data(_dumps(usage_chunk)))
        return out

    def _event(self, event: SSEEvent) -> list[bytes] | None:
        """The client events for one upstream event; ``None`` at ``[DONE]``."""
        data = event.data
        if event.event == "error":
            raise _StreamBroken(_event_error_message(data), "upstream_stream_error")
        if data == DONE:
            return None
        if not data:
            return []
        chunk = _parse_chunk(data)
        if chunk is None:
            return None
        return self._transform(chunk)

    def _relay(self, events: list[SSEEvent], *, at_end: bool = False) -> tuple[list[bytes], bool]:
        """The client events for one read's upstream events, and whether ``[DONE]`` was among them.
        ``at_end``: the events the upstream left without a closing blank line, where a last event
        cut off mid-JSON means the stream is incomplete rather than garbage."""
        out: list[bytes] = []
        for event in events:
            try:
                sent = self._event(event)
            except _StreamBroken as broken:
                if at_end and broken.code == "upstream_bad_response":
                    return out, False
                if out:  # what came before the failure is delivered first
                    broken.delivered = out
                raise
            if sent is None:
                return out, True
            out.extend(sent)
        return out, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        tally = self.tally
        decoder = SSEDecoder()
        try:
            try:
                async for raw in self._response.chunks():
                    if tally.first_byte_at is None:
                        tally.first_byte_at = time.perf_counter()
                    events = decoder.feed(raw)
                    if decoder.comment:
                        decoder.comment = False
                        if not events:
                            yield KEEPALIVE_EVENT
                            continue
                    sent, done = self._relay(events)
                    if sent:
                        yield sent[0] if len(sent) == 1 else b"".join(sent)
                    if done:
                        break
                else:
                    sent, done = self._relay(decoder.close(), at_end=True)
                    if sent:
                        yield b"".join(sent)
                    if not done:
                        raise _StreamBroken(
                            "The upstream stream ended without [DONE]; the answer may be incomplete.",
                            "upstream_incomplete_stream",
                        )
            except UpstreamError as exc:
                raise _StreamBroken(exc.message, exc.code) from None
        except _StreamBroken as broken:
            tally.status = "upstream_error"
            tally.error_code = broken.code
            yield b"".join(
                [
                    *broken.delivered,
                    *self._closing_events(broken=True),
                    error_event(
                        broken.message if self._scrubber is None else self._scrubber.text(broken.message),
                        code=broken.code,
                    ),
                ]
            )
            return
        closing = self._closing_events(broken=False)
        tally.status = "ok"
        yield b"".join([*closing, DONE_EVENT])


class _StreamBroken(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.delivered: list[bytes] = []
        """Events of the same network read that came before the failure: still sent."""


def _parse_chunk(data: str) -> dict[str, Any] | None:
    """One upstream chunk; ``None`` for a ``[DONE]`` padded with spaces. A chunk with a top-level
    ``error`` object (OpenAI's and OpenRouter's mid-stream errors, with or without choices) breaks
    the stream."""
    try:
        chunk = json.loads(data)
    except ValueError:
        if data.strip() == DONE:
            return None
        chunk = None
    if not isinstance(chunk, dict):
        raise _StreamBroken("The upstream provider sent a malformed stream event.", "upstream_bad_response")
    if "error" in chunk and chunk["error"]:
        raise _StreamBroken(_upstream_error_message(chunk["error"]), "upstream_stream_error")
    return chunk


def _event_error_message(data: str) -> str:
    """The message of an ``event: error`` event: ``{"error": {...}}``, ``{"message": ...}`` or nothing."""
    try:
        body = json.loads(data) if data else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        return _upstream_error_message(body.get("error") or body)
    return _upstream_error_message(None)


def _upstream_error_message(error: Any) -> str:
    said = error_said(error)
    return (
        "The upstream provider failed mid-stream."
        if said is None
        else f"The upstream provider failed mid-stream: {said}"
    )
