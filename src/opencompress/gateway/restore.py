"""Turns compression aliases the model echoed back into the original text, per choice, per text
field and per tool-call index, in streams and in whole responses.

Every text the model generates can echo an alias: ``content``, ``refusal``, the reasoning fields
(``reasoning_content`` from DeepSeek/vLLM, ``reasoning`` from OpenRouter), tool-call
``arguments`` and the legacy ``function_call`` arguments (requests with ``functions``). Each gets
its own restorer, since a held alias prefix belongs to one field's text.

Only used when a compression stage produced aliases; otherwise the relay skips it entirely.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opencompress.compression.restore import AliasRestorer

TEXT_FIELDS = ("content", "refusal", "reasoning_content", "reasoning")

_FUNCTION_CALL = -1
"""The tool index under which the legacy ``function_call``'s arguments are restored."""


def _arguments_of(part: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(tool index, function object) for every call in a delta or message that has string
    arguments: its ``tool_calls`` and its legacy ``function_call``."""
    for call in part.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            yield call.get("index", 0), function
    legacy = part.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("arguments"), str):
        yield _FUNCTION_CALL, legacy


def _make(aliases: Mapping[str, str], *, json_escaped: bool = False) -> AliasRestorer:
    from opencompress.compression.restore import AliasRestorer

    return AliasRestorer(aliases, json_escaped=json_escaped)


class ResponseRestorer:
    def __init__(self, aliases: Mapping[str, str]) -> None:
        self._aliases = aliases
        self._text: dict[tuple[int, str], AliasRestorer] = {}
        self._args: dict[tuple[int, int], AliasRestorer] = {}

    def _field(self, choice: int, name: str) -> AliasRestorer:
        restorer = self._text.get((choice, name))
        if restorer is None:
            restorer = self._text[(choice, name)] = _make(self._aliases)
        return restorer

    def _arguments(self, choice: int, tool: int) -> AliasRestorer:
        restorer = self._args.get((choice, tool))
        if restorer is None:
            restorer = self._args[(choice, tool)] = _make(self._aliases, json_escaped=True)
        return restorer

    def chunk(self, choice: dict[str, Any]) -> None:
        """Restore one streamed choice in place; flush held text when the choice finishes."""
        index = choice.get("index", 0)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        for name in TEXT_FIELDS:
            text = delta.get(name)
            if isinstance(text, str):
                delta[name] = self._field(index, name).feed(text)
        for tool, function in _arguments_of(delta):
            function["arguments"] = self._arguments(index, tool).feed(function["arguments"])
        if choice.get("finish_reason") is not None:
            self._flush(index, delta)

    def _flush(self, index: int, delta: dict[str, Any]) -> None:
        """Append what ``index``'s restorers still hold to ``delta`` and forget them."""
        for key in [k for k in self._text if k[0] == index]:
            rest = self._text.pop(key).flush()
            if rest:
                delta[key[1]] = (delta.get(key[1]) or "") + rest
        for choice, tool in sorted(k for k in self._args if k[0] == index):
            rest = self._args.pop((choice, tool)).flush()
            if rest and tool == _FUNCTION_CALL:
                delta["function_call"] = {"arguments": rest}
            elif rest:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": tool, "function": {"arguments": rest}})

    def flush_all(self) -> list[dict[str, Any]]:
        """The held text of every unfinished choice as streamed choices (``index``, ``delta``), for
        a stream that ends without their finish (an error, or ``[DONE]`` with no ``finish_reason``):
        a partly received alias is then sent as received rather than lost."""
        indexes = sorted({k[0] for k in self._text} | {k[0] for k in self._args})
        held: list[dict[str, Any]] = []
        for index in indexes:
            delta: dict[str, Any] = {}
            self._flush(index, delta)
            if delta:
                held.append({"index": index, "delta": delta, "finish_reason": None})
        return held

    def message(self, choice: dict[str, Any]) -> None:
        """Restore one non-streamed choice (``choice["message"]``) in place."""
        message = choice.get("message")
        if not isinstance(message, dict):
            return
        for name in TEXT_FIELDS:
            text = message.get(name)
            if isinstance(text, str):
                restorer = _make(self._aliases)
                message[name] = restorer.feed(text) + restorer.flush()
        for _, function in _arguments_of(message):
            restorer = _make(self._aliases, json_escaped=True)
            function["arguments"] = restorer.feed(function["arguments"]) + restorer.flush()
