"""Streaming alias restorer: turns aliases the model echoed (``§AB``) back into their text.

Works on deltas as they arrive. Only a suffix that is a *proper prefix* of some alias is held
back, so unambiguous text passes through at once and the added latency is at most one delta, and
only where an alias may be starting. Text that looks like an alias but is not one of ours passes
through verbatim.

In ``json_escaped`` mode (tool-call arguments, which are JSON text streamed in fragments) the
sigil may also arrive escaped as ``\\u00a7``; the replacement is JSON-escaped so the arguments stay
valid JSON once concatenated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


def _escaped_sigil_forms(alias: str) -> list[str]:
    head, rest = alias[0], alias[1:]
    code = f"{ord(head):04x}"
    return [f"\\u{code}{rest}", f"\\u{code.upper()}{rest}"]


class AliasRestorer:
    def __init__(self, aliases: Mapping[str, str], *, json_escaped: bool = False) -> None:
        self._patterns: dict[str, str] = {}
        for alias, text in aliases.items():
            if not alias:
                continue
            replacement = json.dumps(text, ensure_ascii=False)[1:-1] if json_escaped else text
            self._patterns[alias] = replacement
            if json_escaped:
                for form in _escaped_sigil_forms(alias):
                    self._patterns[form] = replacement
        self._prefixes = {p[:i] for p in self._patterns for i in range(1, len(p))}
        self._starts = {p[0] for p in self._patterns}
        self._longest = max((len(p) for p in self._patterns), default=0)
        self._held = ""

    def feed(self, text: str) -> str:
        """Restore ``text`` (one delta); returns what can be emitted now."""
        if not self._patterns:
            return text
        buf = self._held + text
        self._held = ""
        out: list[str] = []
        i = 0
        emitted = 0
        n = len(buf)
        while i < n:
            if buf[i] not in self._starts:
                i += 1
                continue
            matched = self._match_at(buf, i)
            if matched is not None:
                out.append(buf[emitted:i])
                out.append(self._patterns[matched])
                i += len(matched)
                emitted = i
                continue
            tail = buf[i:]
            if len(tail) < self._longest and tail in self._prefixes:
                out.append(buf[emitted:i])
                self._held = tail
                return "".join(out)
            i += 1
        out.append(buf[emitted:])
        return "".join(out)

    def _match_at(self, buf: str, i: int) -> str | None:
        for length in {len(p) for p in self._patterns}:
            candidate = buf[i : i + length]
            if candidate in self._patterns:
                return candidate
        return None

    def flush(self) -> str:
        """End of the stream (finish, error or disconnect): release whatever is held, verbatim."""
        held, self._held = self._held, ""
        return held
