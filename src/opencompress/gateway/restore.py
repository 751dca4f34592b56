"""Turns compression aliases the model echoed back into the original text, per choice and per
tool-call index, in streams and in whole responses.

Only used when a compression stage produced aliases; otherwise the relay skips it entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opencompress.compression.restore import AliasRestorer


def _make(aliases: Mapping[str, str], *, json_escaped: bool = False) -> AliasRestorer:
    from opencompress.compression.restore import AliasRestorer

    return AliasRestorer(aliases, json_escaped=json_escaped)


class ResponseRestorer:
    def __init__(self, aliases: Mapping[str, str]) -> None:
        self._aliases = aliases
        self._text: dict[int, AliasRestorer] = {}
        self._args: dict[tuple[int, int], AliasRestorer] = {}

    def _content(self, choice: int) -> AliasRestorer:
        restorer = self._text.get(choice)
        if restorer is None:
            restorer = self._text[choice] = _make(self._aliases)
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
        content = delta.get("content")
        if isinstance(content, str):
            delta["content"] = self._content(index).feed(content)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                function["arguments"] = self._arguments(index, call.get("index", 0)).feed(
                    function["arguments"]
                )
        if choice.get("finish_reason") is not None:
            self._flush(index, delta)

    def _flush(self, index: int, delta: dict[str, Any]) -> None:
        held = self._text.pop(index, None)
        if held is not None:
            rest = held.flush()
            if rest:
                delta["content"] = (delta.get("content") or "") + rest
        for choice, tool in sorted(k for k in self._args if k[0] == index):
            rest = self._args.pop((choice, tool)).flush()
            if rest:
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": tool, "function": {"arguments": rest}})

    def message(self, choice: dict[str, Any]) -> None:
        """Restore one non-streamed choice (``choice["message"]``) in place."""
        message = choice.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        if isinstance(content, str):
            restorer = _make(self._aliases)
            message["content"] = restorer.feed(content) + restorer.flush()
        for call in message.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                restorer = _make(self._aliases, json_escaped=True)
                function["arguments"] = restorer.feed(function["arguments"]) + restorer.flush()
