"""Lossless JSON minification: whole JSON documents and JSON blocks embedded in text.

The minifier is *textual*: it drops whitespace between tokens of text already known to be valid
JSON and copies every string and number token byte for byte. Re-serialising with ``json.dumps``
would also be "equal JSON", but it rewrites numbers (``1e5`` → ``100000.0``, ``1.50`` → ``1.5``),
silently drops duplicate keys and can emit lone surrogates; the textual form keeps key order,
duplicate keys, escapes and the exact spelling of every number, so number retention stays 1.0.
Key aliasing and table re-shaping are deliberately not done here (aliasing keys measured +15%).

Embedded JSON: a line that starts with ``{`` or ``[`` (or the body of a fenced ```` ```json ````
block) is parsed with ``raw_decode``; when a multi-line value parses and ends at the end of a line,
it is replaced by its minified form. Anything that does not parse is left alone. Nothing inside any
other fenced block is touched: there the JSON is part of code (a snapshot in a string literal, a
dict literal, a test fixture) and its layout is part of what the code means.
"""

from __future__ import annotations

import bisect
import json
import re

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.classify import classify

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s"]+', re.S)
_BLOCK_START = re.compile(r"^[ \t]*[\[{][ \t]*$|^[ \t]*[\[{][ \t]*[\"\[{\]}]", re.M)
_LINE_END = re.compile(r"[ \t]*(?:\n|\Z)")
_DECODER = json.JSONDecoder()
_MAX_EMBEDDED_ATTEMPTS = 64
_FENCE_LINE = re.compile(r"^[ \t]*(```|~~~)[ \t]*([^\n]*)$", re.M)
_JSON_TAGS = frozenset({"json", "jsonc", "json5", "jsonl", "ndjson", "geojson"})


def _code_fences(text: str) -> tuple[list[int], list[int]]:
    """(starts, ends) of the bodies of fenced blocks other than ```` ```json ````, in order: the
    stretches where JSON is part of code. An unclosed fence runs to the end of the text."""
    starts: list[int] = []
    ends: list[int] = []
    marker = ""
    body = 0
    is_code = False
    for m in _FENCE_LINE.finditer(text):
        if not marker:
            marker = m.group(1)
            tag = m.group(2).split(maxsplit=1)
            is_code = not tag or tag[0].lower() not in _JSON_TAGS
            body = m.end() + 1
        elif m.group(1) == marker:
            if is_code:
                starts.append(body)
                ends.append(m.start())
            marker = ""
    if marker and is_code:
        starts.append(body)
        ends.append(len(text))
    return starts, ends


def _inside(fences: tuple[list[int], list[int]], pos: int) -> bool:
    starts, ends = fences
    k = bisect.bisect_right(starts, pos) - 1
    return k >= 0 and pos < ends[k]


def minify_valid(text: str) -> str:
    """Minify JSON text that is already known to be valid (whitespace between tokens removed)."""
    return "".join(_TOKENS.findall(text))


def minify(text: str) -> str | None:
    """The minified form of ``text`` when it is one JSON document and minifying shortens it."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "[{":
        return None
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    out = minify_valid(stripped)
    return out if len(out) < len(text) else None


def minify_embedded(text: str, *, unless_code_around: bool = False) -> str:
    """``text`` with multi-line JSON blocks that start a line minified in place (never inside a
    fenced block other than ```` ```json ````).

    ``unless_code_around``: leave ``text`` as it is when what remains outside the JSON blocks is
    code. A prompt that is mostly pretty-printed JSON classifies as code (indented lines ending
    in ``{`` and ``}``), yet it is data with a sentence around it; a dict literal in a source file
    also parses as JSON, but there the layout is the author's and stays."""
    if "{" not in text and "[" not in text:
        return text
    out: list[str] = []
    cursor = 0
    attempts = 0
    fences = _code_fences(text) if "```" in text or "~~~" in text else ([], [])
    for m in _BLOCK_START.finditer(text):
        start = m.start()
        if start < cursor or _inside(fences, start):
            continue
        attempts += 1
        if attempts > _MAX_EMBEDDED_ATTEMPTS:
            break
        begin = start + (len(m.group(0)) - len(m.group(0).lstrip()))
        try:
            _, end = _DECODER.raw_decode(text, begin)
        except (ValueError, RecursionError):
            continue
        block = text[begin:end]
        if "\n" not in block or _LINE_END.match(text, end) is None:
            continue
        small = minify_valid(block)
        if len(small) < len(block):
            out.append(text[cursor:begin])
            out.append(small)
            cursor = end
    if not out:
        return text
    out.append(text[cursor:])
    if unless_code_around and _code_outside(out):
        return text
    return "".join(out)


def _code_outside(pieces: list[str]) -> bool:
    """Whether the text between the minified blocks (``pieces`` alternate: outside, block, …)
    is code by the classifier's own rule."""
    return classify("".join(pieces[0::2])) in ("code", "diff")


class JsonMinify:
    """Whole-document JSON (class ``json``) in any role, including earlier assistant turns."""

    name = "json_minify"

    def transform(self, text: str, info: TextInfo) -> str:
        if info.kind != "json":
            return text
        stripped = text.strip()
        return minify_valid(stripped)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages)


class JsonEmbedded:
    """JSON blocks inside text (tool output with a JSON block, a ```json fence in a prompt). In text
    classified as code, only when the text around the blocks is not code (see :func:`minify_embedded`)."""

    name = "json_embedded"

    def transform(self, text: str, info: TextInfo) -> str:
        if info.kind in ("json", "diff", "empty"):
            return text
        return minify_embedded(text, unless_code_around=info.kind == "code")

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages)
