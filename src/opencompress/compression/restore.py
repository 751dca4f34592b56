"""Streaming alias restoration: turn ``§AA`` back into the text it stands for, chunk by chunk.

The model may echo an alias from the prompt in its answer or in tool-call arguments; the client
must see the original text. This is the stop-sequence holdback used by inference servers, in its
"proper prefix" form: after replacing every complete alias, only a suffix of the buffer that is a
*proper prefix* of some alias is held back (``§`` or ``§A`` at the end of a chunk), so unambiguous
text passes through at once and the extra latency is at most one chunk, only where an alias starts.

``json_escaped=True`` is for tool-call ``arguments`` (JSON text streamed in fragments): the sigil may
arrive as the escape ``\\u00a7`` (or ``\\u00A7``), an escape preceded by an odd number of
backslashes is literal text and left alone, and the replacement is JSON-escaped because it lands
inside a JSON string. Text that merely looks like an alias but is not in the mapping passes through
verbatim. Use one restorer per choice index and per tool-call index, and always call
:meth:`flush` when the stream ends (finish, error or disconnect) so held text is never lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_BACKSLASH = "\\"


def _json_escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


class AliasRestorer:
    def __init__(self, aliases: Mapping[str, str], *, json_escaped: bool = False) -> None:
        self.json_escaped = json_escaped
        repl: dict[str, str] = {}
        escaped_forms: set[str] = set()
        for alias, original in aliases.items():
            if not alias:
                continue
            repl[alias] = _json_escape(original) if json_escaped else original
            if json_escaped:
                for form in self._escaped_forms(alias):
                    repl.setdefault(form, _json_escape(original))
                    escaped_forms.add(form)
        self._repl = repl
        self._escaped = escaped_forms
        self._prefixes = {p[:k] for p in repl for k in range(1, len(p))}
        self._max = max((len(p) for p in repl), default=0)
        self._starts = {p[0] for p in repl}
        ordered = sorted(repl, key=lambda s: (-len(s), s))
        self._rx = re.compile("|".join(re.escape(p) for p in ordered)) if ordered else None
        self._buf = ""
        self._emitted_bs = 0  # backslashes at the very end of everything emitted so far

    @staticmethod
    def _escaped_forms(alias: str) -> list[str]:
        forms: list[str] = []
        for i, ch in enumerate(alias):
            if ord(ch) > 0x7F:
                code = f"{ord(ch):04x}"
                for spelled in {code, code.upper()}:
                    forms.append(alias[:i] + _BACKSLASH + "u" + spelled + alias[i + 1 :])
                break
        return forms

    def feed(self, text: str) -> str:
        """Restored text that is safe to emit now (possibly ``""`` while an alias is incomplete)."""
        if self._rx is None:
            return text
        self._buf += text
        return self._drain(final=False)

    def flush(self) -> str:
        """Everything still held, with complete aliases restored; the restorer is then empty."""
        if self._rx is None or not self._buf:
            out, self._buf = self._buf, ""
            return out
        return self._drain(final=True)

    def _literal_escape(self, buf: str, i: int) -> bool:
        """Is ``buf[i]`` (a backslash) itself escaped, i.e. preceded by an odd run of backslashes?"""
        j = i
        while j > 0 and buf[j - 1] == _BACKSLASH:
            j -= 1
        run = i - j + (self._emitted_bs if j == 0 else 0)
        return run % 2 == 1

    def _hold(self, rest: str) -> int:
        """Length of the longest suffix of ``rest`` that is a proper prefix of some alias."""
        tail = rest[-(self._max - 1) :] if self._max > 1 else ""
        if not tail or not any(c in tail for c in self._starts):
            return 0
        for k in range(min(self._max - 1, len(rest)), 0, -1):
            if rest[-k:] in self._prefixes:
                return k
        return 0

    def _drain(self, *, final: bool) -> str:
        assert self._rx is not None
        buf = self._buf
        out: list[str] = []
        pos = 0
        while True:
            m = self._rx.search(buf, pos)
            if m is None:
                break
            start = m.start()
            if not final and buf[start:] in self._prefixes:
                break  # complete for a short alias, but it may still grow into a longer one
            match = m.group(0)
            if match in self._escaped and self._literal_escape(buf, start):
                out.append(buf[pos : start + 1])
                pos = start + 1
                self._note(out[-1])
                continue
            out.append(buf[pos:start])
            out.append(self._repl[match])
            self._note(buf[pos:start])
            self._note(self._repl[match])
            pos = m.end()
        rest = buf[pos:]
        keep = 0 if final else self._hold(rest)
        emit = rest[: len(rest) - keep]
        out.append(emit)
        self._note(emit)
        self._buf = rest[len(rest) - keep :]
        return "".join(out)

    def _note(self, emitted: str) -> None:
        if not emitted:
            return
        stripped = emitted.rstrip(_BACKSLASH)
        trailing = len(emitted) - len(stripped)
        self._emitted_bs = self._emitted_bs + trailing if not stripped else trailing
