"""Long-string aliasing with an append-only legend (balanced and up).

Long repeated strings — file paths, URLs and their directory prefixes, and whole repeated prose
lines (tool boilerplate) — are replaced by fixed-width aliases ``§AA``, ``§AB`` … (``§`` plus two
capital letters: one sigil token plus one letter-pair token in o200k for almost every pair, and
fixed width so a stream restorer knows when an alias is complete). The message that first uses an
alias carries its definition at the top, one line each: ``§AA = /very/long/path``.

Prefix stability: the conversation is processed in order and every decision for a text uses only
that text and the texts before it (occurrence counts so far, aliases defined so far). So a message
compresses to the same bytes whatever follows it, and the legend only ever grows at the end. Alias
codes are handed out in first-definition order, hence deterministic.

Accepted only where it pays: a string needs at least ``min_tokens`` o200k tokens and at least
``min_count`` occurrences so far (this text included); a *new* alias must pay for its legend line
in this text (``occurrences × (tok(s) − alias) > tok(s) + legend overhead``), or be a string already
seen ``min_count`` times before this text while the text as a whole still gets shorter. That
estimate counts each string on its own, and in context a string can be cheaper (``(/cmd`` starts
with one token for ``(/``), so the rewritten text is kept only when it counts fewer o200k tokens
than the text it replaces; the whole text is counted only for that one final check.

Codes: a code is handed out only when the rewritten text actually uses its string, the next free
one in order, and a text's new codes are committed exactly when the text is kept. So the codes in
use are always ``CODES[:n]`` and no code is ever printed with two meanings in one request (an
allocated-but-unused code once left a gap that the next message filled again: §AB defined twice).

Never aliased: JSON documents (keys or values), assistant turns, ``tool_calls``, tool schemas,
anything quoted, and code lines: a line-numbered file view line (``12:code``, ``cat -n``'s
``   12<TAB>code``, Claude Code's ``12→code``, see ``text.views``) gets no alias at all, and whole-line
aliases go only to prose lines. *Quoted* means touching a quote character or lying inside a quoted
span (``text.quoting.quoted_spans``): double, single or back quotes on one line (an unclosed one makes its
whole line quoted), and closed triple-quoted strings and fenced code blocks across lines; an
apostrophe between letters (``don't``) is not a quote. So in ``run "open /a/long/path now"`` the path stays
verbatim, while the same path outside quotes may be aliased. Whole-line aliases go only to prose
lines: no call syntax, identifiers, operators, markup or leading code keyword (``_NOT_PROSE``).

Bounded work: path atoms longer than ``_MAX_ATOM`` characters are left alone (they are not paths in
any practical sense), and only the first ``_MAX_PREFIXES`` directory prefixes of an atom, each at
most ``_MAX_PREFIX`` characters, are candidates. Without the bounds one 75 KB run of ``/aa`` made
25 000 prefixes of up to 75 KB each (quadratic time and ~1 GB of memory).

If the sigil ``§`` shows up in the conversation itself, no new aliasing happens from there on (an
original ``§AB`` could not be told apart from an alias).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from opencompress.compression.base import Message, StageContext
from opencompress.compression.classify import is_json_document
from opencompress.compression.text.quoting import Quoted, apostrophe
from opencompress.compression.text.views import NUMBERED_LINE
from opencompress.tokens import count_text

SIGIL = "§"
CODES: tuple[str, ...] = tuple(SIGIL + a + b for a in string.ascii_uppercase for b in string.ascii_uppercase)
ALIAS_TOKENS = 2
"""o200k tokens of an alias in running text (`` §`` + letter pair); a few pairs cost 3."""
LEGEND_OVERHEAD = 5
"""Tokens of a legend line besides the original string: newline, alias (2), `` =``, margin."""

# The lookbehind starts a match only at an atom boundary: without it a long run with no ``/`` is
# retried from every position inside it, which is quadratic (64 KB of "x" took ~9 s).
_ATOM = re.compile(r"(?<![^\s\"'`()\[\]{}<>,;|=])[^\s\"'`()\[\]{}<>,;|=]*/[^\s\"'`()\[\]{}<>,;|=]*")
_ATOM_REST = re.compile(r"[^\s\"'`()\[\]{}<>,;|=]*")
_QUOTES = "\"'`"
_TRAIL = ".:!?"
_WORD = re.compile(r"[A-Za-z]{2,}")
_NOT_PROSE = re.compile(
    r"[/\\=\[\]{}<>;\"`|#$@~^*+]"  # paths, operators, markup, quotes
    r"|\w\((?![a-z]{1,2}\))"  # a call ``name(``; the plural ``error(s)`` is prose
    r"|[A-Za-z0-9]_\w|\b_\w|[a-z][A-Z]"  # snake_case, _private, camelCase identifiers
    r"|(?<![A-Za-z_])[A-Za-z_]{2,}\.[A-Za-z_]"  # attribute access ``self.name`` (anchored: linear)
    r"|->|::|&&"
    r"|^(?:def|class|return|import|from|if|elif|else|for|while|with|try|except|finally|raise|assert"
    r"|yield|await|async|lambda|pass|del|global|const|let|var|function|fn|pub|use|package|public"
    r"|private|protected|static|void|func|case|switch|print|echo|export|include|select)\b"
)
"""What makes a line code (or markup) rather than prose; a prose line must match none of it."""
_MAX_ATOM = 4096
_MAX_PREFIX = 512
_MAX_PREFIXES = 24


@lru_cache(maxsize=65536)
def tokens(text: str) -> int:
    return count_text(text)


@dataclass
class AliasState:
    counts: Counter[str] = field(default_factory=Counter)
    aliases: dict[str, str] = field(default_factory=dict)
    """original text → alias code, in definition order."""
    disabled: bool = False
    verbatim: set[str] = field(default_factory=set)
    """Paths already shown in full somewhere (see :meth:`Aliases.note_verbatim`)."""

    def copy(self) -> AliasState:
        return AliasState(
            counts=Counter(self.counts),
            aliases=dict(self.aliases),
            disabled=self.disabled,
            verbatim=set(self.verbatim),
        )

    def mapping(self) -> dict[str, str]:
        """alias → original text (what the stream restorer needs)."""
        return {code: text for text, code in self.aliases.items()}


@dataclass(frozen=True)
class Rewrite:
    text: str
    new: tuple[tuple[str, str], ...] = ()
    """(original, code) pairs this text defines; committed only if the pipeline keeps the text."""


class _ViewLines:
    """Whether an offset lies on a line of a line-numbered file view (``text.views``): code the
    agent may copy back byte for byte into an edit, so never aliased. Asked with offsets that do
    not decrease (regex matches in order), it only looks back as far as the previous offset for a
    newline, so each character is scanned once and only lines that are asked about are matched."""

    __slots__ = ("_at", "_text", "_view")

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0
        self._view = NUMBERED_LINE.match(text) is not None

    def hit(self, pos: int) -> bool:
        if pos < self._at:  # asked out of order: look back from the top again
            self._at = 0
            self._view = NUMBERED_LINE.match(self._text) is not None
        nl = self._text.rfind("\n", self._at, pos)
        if nl >= 0:
            self._view = NUMBERED_LINE.match(self._text, nl + 1) is not None
        self._at = pos
        return self._view


def _atoms(text: str, quoted: Quoted, views: _ViewLines) -> Iterable[str]:
    """Path/URL atoms neither touching a quote nor inside a quoted span nor on a numbered view
    line, and a bounded number of their directory prefixes (see the module docstring: the work
    stays linear in the text)."""
    for m in _ATOM.finditer(text):
        start, end = m.span()
        if end - start > _MAX_ATOM:
            continue
        if (start and text[start - 1] in _QUOTES) or (end < len(text) and text[end] in _QUOTES):
            continue
        if quoted.hit(start, end) or views.hit(start):
            continue
        atom = m.group(0).rstrip(_TRAIL)
        if len(atom) < 12 or SIGIL in atom:
            continue
        yield atom
        cut = atom.find("/", 1)
        for _ in range(_MAX_PREFIXES):
            if not 0 < cut <= _MAX_PREFIX:
                break
            prefix = atom[:cut]
            if len(prefix) >= 12 and not prefix.endswith(":") and not prefix.endswith("/"):
                yield prefix
            cut = atom.find("/", cut + 1)


def _unquoted(line: str) -> bool:
    """No quote character in ``line`` (apostrophes between letters are fine)."""
    if '"' in line or "`" in line:
        return False
    at = line.find("'")
    while at >= 0:
        if not apostrophe(line, at):
            return False
        at = line.find("'", at + 1)
    return True


def _prose_lines(text: str, quoted: Quoted) -> Iterable[str]:
    """Whole lines worth aliasing: long prose sentences (tool boilerplate), never code, paths
    (those get atom aliases) or anything quoted."""
    pos = 0
    for line in text.split("\n"):
        start = pos
        pos += len(line) + 1
        s = line.strip()
        if (
            len(s) >= 48
            and SIGIL not in s
            and not NUMBERED_LINE.match(line)
            and not _NOT_PROSE.search(s)
            and _unquoted(s)
            and len(_WORD.findall(s)) >= 6
            and not quoted.hit(start, start + len(line))
        ):
            yield s


@lru_cache(maxsize=4096)
def _pattern(atoms: tuple[str, ...], lines: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for this text's aliased strings: whole lines first, then path atoms (longest
    first) that start after a delimiter and end before one or at a ``/`` (directory prefix)."""
    parts: list[str] = []
    if lines:
        alt = "|".join(re.escape(s) for s in lines)
        parts.append(rf"^(?P<ind>[ \t]*)(?P<line>{alt})[ \t]*$")
    if atoms:
        alt = "|".join(re.escape(s) for s in sorted(atoms, key=lambda s: (-len(s), s)))
        parts.append(rf"(?<![^\s(\[{{<,;|=])(?P<atom>{alt})(?=[\s)\]}}>,;|=/]|[.:!?](?:\s|$)|$)")
    return re.compile("|".join(parts), re.M)


class Aliases:
    name = "aliases"

    def __init__(self, *, min_tokens: int = 4, min_count: int = 3, lines: bool = True) -> None:
        self.min_tokens = min_tokens
        self.min_count = min_count
        self.lines = lines

    @staticmethod
    def new_state() -> AliasState:
        return AliasState()

    def candidates(self, text: str) -> Counter[str]:
        """Candidate strings of ``text`` with their occurrence counts. Path atoms never contain
        whitespace and prose lines always do, so one counter holds both kinds unambiguously."""
        quoted = Quoted(text)
        if "/" in text:
            found: Counter[str] = Counter(_atoms(text, quoted, _ViewLines(text)))
        else:
            found = Counter()
        if self.lines:
            found.update(_prose_lines(text, quoted))
        return found

    def observe(self, state: AliasState, text: str) -> Counter[str]:
        """Count this text's candidates into the state (every role counts as evidence)."""
        if SIGIL in text:
            state.disabled = True
        found = self.candidates(text)
        state.counts.update(found)
        return found

    def rewrite(self, state: AliasState, text: str, found: Counter[str]) -> Rewrite:
        """The aliased form of ``text`` given the state *after* :meth:`observe` (state is read only)."""
        if state.disabled or not found:
            return Rewrite(text)
        quoted = Quoted(text)
        before = 0
        for amortize in (True, False):
            result = self._rewrite(state, text, found, quoted, amortize=amortize)
            if result is None:
                continue
            # the estimate counts strings out of context; the kept text must count fewer tokens
            before = before or count_text(text)
            if count_text(result.text) < before:
                return result
        return Rewrite(text)

    def _rewrite(
        self,
        state: AliasState,
        text: str,
        found: Counter[str],
        quoted: Quoted,
        *,
        amortize: bool,
    ) -> Rewrite | None:
        chosen = self._choose(state, found, amortize=amortize)
        if not chosen:
            return None
        views = _ViewLines(text)
        codes = dict(state.aliases)
        fresh: list[tuple[str, str]] = []
        atoms = tuple(sorted(s for s in chosen if " " not in s))
        lines = tuple(sorted(s for s in chosen if " " in s))
        used: Counter[str] = Counter()
        shown: set[str] = set()

        def code(s: str) -> str | None:
            """``s``'s code, handing out the next free one on its first use here (never earlier:
            a code given to a string that then goes unused would be skipped by the legend and
            handed out again by the next text, with another meaning)."""
            c = codes.get(s)
            if c is None and len(codes) < len(CODES):
                c = codes[s] = CODES[len(codes)]
                fresh.append((s, c))
            if c is not None:
                used[s] += 1
            return c

        def sub(m: re.Match[str]) -> str:
            if quoted.hit(m.start(), m.end()):  # counted outside quotes, but this one is inside
                return m.group(0)
            line = m.group("line") if lines else None
            if line is not None:
                c = code(line)
                return m.group(0) if c is None else m.group("ind") + c
            if views.hit(m.start()):  # a code line of a file view: verbatim
                return m.group(0)
            atom = m.group("atom")
            rest = _ATOM_REST.match(text, m.end())
            full = (atom + (rest.group(0) if rest else "")).rstrip(_TRAIL)
            if full != atom and full not in state.verbatim and full not in shown:
                shown.add(full)  # first sighting of a path: keep it whole once
                return atom
            return code(atom) or atom

        body = _pattern(atoms, lines).sub(sub, text)
        saved = sum(n * (tokens(s) - ALIAS_TOKENS) for s, n in used.items())
        saved -= sum(tokens(s) + LEGEND_OVERHEAD for s, _ in fresh)
        if saved <= 0:
            return None
        legend = "".join(f"{c} = {s}\n" for s, c in fresh)
        return Rewrite(legend + body, tuple(fresh))

    def _choose(self, state: AliasState, found: Counter[str], *, amortize: bool) -> list[str]:
        """Pick strings for this text, longest first, so a directory prefix only gets the
        occurrences its longer paths did not take."""
        chosen: list[str] = []
        prior = state.counts
        for s in sorted(found, key=lambda x: (-len(x), x)):
            occ = found[s] - sum(
                found[t] for t in chosen if t.startswith(s) and t[len(s) : len(s) + 1] == "/"
            )
            if occ <= 0:
                continue
            if s in state.aliases:
                chosen.append(s)
                continue
            if prior[s] < self.min_count:
                continue
            tok = tokens(s)
            if tok < self.min_tokens:
                continue
            gain = occ * (tok - ALIAS_TOKENS) - (tok + LEGEND_OVERHEAD)
            recurring = prior[s] - found[s] >= self.min_count - 1
            if gain > 0 or (amortize and recurring and occ * (tok - ALIAS_TOKENS) > LEGEND_OVERHEAD):
                chosen.append(s)
        return chosen

    @staticmethod
    def note_verbatim(state: AliasState, text: str) -> None:
        """Record the paths this (final) text shows in full. A directory-prefix alias never hides
        the *first* sighting of a path (``…/2016__CSAW/run.py:4``, ``src/pkg/sub/x.py``), so every
        path appears verbatim at least once in the prompt: an agent's next command quotes it, and
        a ``find_file`` listing turned wholly into ``§AA/x.py`` lines showed none of them (held-out-like
        SWE-agent traces: 361 of 483 listed paths were nowhere verbatim)."""
        for m in _ATOM.finditer(text):
            state.verbatim.add(m.group(0).rstrip(_TRAIL))

    @staticmethod
    def commit(state: AliasState, rewrite: Rewrite) -> None:
        """Record the codes a kept text defines. They are the next free ones, in order (see
        :meth:`_rewrite`), so the codes in use stay ``CODES[:n]``, each with one meaning."""
        for s, code in rewrite.new:
            if s in state.aliases or code != CODES[len(state.aliases)]:
                raise ValueError(f"alias {code} committed out of order")  # a bug, never silently
            state.aliases[s] = code

    def step(self, state: AliasState, text: str) -> str:
        """One text in conversation order, without the pipeline's protect checks: count it, alias
        it where that makes it shorter, and note what it shows in full. Standalone use."""
        found = self.observe(state, text)
        rw = self.rewrite(state, text, found)
        if len(rw.text) < len(text):
            self.commit(state, rw)
            text = rw.text
        self.note_verbatim(state, text)
        return text

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        """Standalone use: alias every non-assistant, non-JSON string content in order."""
        state = self.new_state()
        out: list[Message] = []
        for m in messages:
            content = m.get("content") if isinstance(m, dict) else None
            if not isinstance(content, str):
                out.append(m)
                continue
            if m.get("role") == "assistant" or is_json_document(content):
                self.observe(state, content)  # evidence for later texts, never rewritten
                out.append(m)
                continue
            new = self.step(state, content)
            out.append(m if new == content else {**m, "content": new})
        return out
