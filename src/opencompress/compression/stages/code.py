"""Code comment stripping (aggressive level only), where it is provably safe.

Comments are prose for humans; the model rarely needs them to edit or call code, and they are
often a third of a source file. Identifiers, strings and line structure are never touched:

* **Python** goes through the standard ``tokenize`` module, so a ``#`` inside a string is never
  mistaken for a comment; text that does not tokenize is left alone.
* **C-family** (C, C++, C#, Java, Go, JavaScript, TypeScript, Kotlin, Swift) goes through a small
  lexer that knows ``"…"``, ``'…'`` and `` `…` `` strings, C# verbatim ``@"…"`` strings and Go raw
  `` `…` `` strings (no escapes in either), and ``//`` / ``/* */`` comments. Code where that lexer
  could be wrong is skipped: JavaScript regex literals and ``${…}`` templates, C++ raw strings,
  ``#"…"#`` raw strings, triple-quoted strings, digit separators, or any text the lexer does not
  end cleanly. Rust and other languages are not in the family at all.

Kept always, whole: a comment that contains a digit, a URL or a file path (numbers, addresses and
paths are never altered, and such a comment usually states a limit, a unit or where to look:
``TIMEOUT = 30  # seconds, see https://…/limits``); shebangs, encoding lines, ``# type:`` /
``noqa`` / ``pragma`` / ``fmt:`` and other tool directives, ``//go:`` / ``// @ts-`` / ``eslint`` /
``/*!`` / ``@license`` comments. Only fenced blocks with a known language tag and whole texts that
look like Python are touched; file views with line-number prefixes are not (the model edits them by
line number), nor are fences left unclosed (where the block ends is a guess).
"""

from __future__ import annotations

import io
import re
import tokenize

from opencompress.compression.base import Message, StageContext, TextInfo, apply_text_stage
from opencompress.compression.text.views import NUMBERED_LINES

# The body runs to the matching closing fence or, when there is none, to the end of the text: without
# the ``\Z`` way out every opening fence would rescan the rest of the text (quadratic).
_FENCE = re.compile(
    r"^([ \t]*)(```|~~~)[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:(?P<close>^\1\2[ \t]*$)|\Z)", re.S | re.M
)
_PY_KEEP = re.compile(
    r"#!|#\s*(?:-\*-|(?:vim?|coding)[:=]|type:|noqa|pragma|fmt:|pylint:|mypy:|isort:|pyright:|ruff:|nosec)"
)
_C_KEEP = re.compile(
    r"/\*!|//\s*(?:go:|\+build|@ts-|eslint|prettier|nolint|#region|#endregion)|@license|@preserve"
)
# Hard keeps: a digit, a URL, or a file path (a slash between word characters, a rooted or relative
# path, or a file name with a common extension). Every pattern is anchored at the start of a run so
# that a long run is scanned once.
_HARD_KEEP = re.compile(
    r"\d|\b(?:https?|ftp)://|\bwww\."
    r"|(?<![\w.~-])[\w.~-]*\w[/\\]\w"
    r"|(?<!\S)(?:~|\.{1,2})?[/\\]\w"
    r"|(?<![\w-])\w[\w-]*\.(?:py|pyi|js|mjs|cjs|jsx|ts|tsx|json|ya?ml|toml|ini|cfg|conf|txt|md|rst|csv|tsv"
    r"|c|h|cc|cpp|hpp|cs|java|go|rs|rb|php|sh|bash|zsh|ps1|bat|sql|html?|css|scss|xml|log|lock|env"
    r"|kt|swift|lua|pl|scala|dart|vue|svelte|proto|tf|mk|cmake|gradle|ipynb|so|dll|exe|bin|zip|gz|tar)\b",
    re.IGNORECASE,
)
_PY_HINT = re.compile(r"^[ \t]*(?:def |class |import |from \S+ import |if __name__)", re.M)
_JS_REGEX = re.compile(r"[(,=:\[!&|?{};]\s*/[^/*\s]")
PYTHON = frozenset({"python", "py", "python3", "py3"})
C_FAMILY = frozenset(
    {"c", "h", "cpp", "c++", "cc", "hpp", "cs", "csharp", "java", "go", "golang", "kotlin", "kt", "swift"}
    | {"js", "javascript", "jsx", "mjs", "ts", "typescript", "tsx"}
)
_JS = frozenset({"js", "javascript", "jsx", "mjs", "ts", "typescript", "tsx"})
_HASH_RAW = re.compile(r"(?<![\w\"'])#+\"")
_DIGIT_SEPARATOR = re.compile(r"\d'\d")
_CSHARP = frozenset({"cs", "csharp"})
_GO = frozenset({"go", "golang"})


def _keep_python(comment: str) -> bool:
    return bool(_PY_KEEP.match(comment) or _HARD_KEEP.search(comment, 1))


def strip_python(src: str) -> str | None:
    """``src`` without comments (directives kept), or None when it does not tokenize."""
    try:
        comments = [
            tok.start
            for tok in tokenize.generate_tokens(io.StringIO(src).readline)
            if tok.type == tokenize.COMMENT and not _keep_python(tok.string)
        ]
    except (tokenize.TokenError, SyntaxError, ValueError):
        return None
    if not comments:
        return None
    lines = src.split("\n")
    drop: set[int] = set()
    for row, col in comments:
        before = lines[row - 1][:col].rstrip()
        if before:
            lines[row - 1] = before
        else:
            drop.add(row - 1)
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def _could_mislex(src: str, lang: str) -> bool:
    """String forms the small lexer does not model; a text holding one is left alone.

    C++ raw strings ``R"(…)"``, triple-quoted text blocks (Java, Kotlin, Swift, C# 11), Swift and
    Rust-style ``#"…"#`` raw strings, ``@"…"`` outside C# (Objective-C, or C# under another tag),
    JavaScript regex literals, JavaScript template literals with ``${…}`` substitutions (a nested
    template or a ``}`` in a string would end the lexer's literal early), and C++14 digit
    separators (``1'000'000`` opens a character literal)."""
    if 'R"' in src or '"""' in src or _HASH_RAW.search(src) or _DIGIT_SEPARATOR.search(src):
        return True
    if "@" in src and lang not in _CSHARP and '@"' in src:
        return True
    if lang in _JS and ("${" in src or _JS_REGEX.search(src)):
        return True
    return False


def _string_end(src: str, i: int, lang: str) -> int:
    """The index just past the string literal opening at ``src[i]``, or -1 when the lexer cannot
    tell (no end, or a line break inside a one-line literal).

    C# verbatim strings (``@"…"``, ``$@"…"``, ``@$"…"``): a backslash is an ordinary character,
    ``""`` is a quote and the literal may span lines. Go raw strings (`` `…` ``): no escapes at all.
    Everywhere else a backslash escapes the next character."""
    c = src[i]
    n = len(src)
    verbatim = c == '"' and lang in _CSHARP and i > 0 and src[i - 1] == "@"
    raw = verbatim or (c == "`" and lang in _GO)
    j = i + 1
    while j < n:
        ch = src[j]
        if ch == c:
            if verbatim and j + 1 < n and src[j + 1] == '"':
                j += 2  # "" inside a verbatim string
                continue
            return j + 1
        if ch == "\\" and not raw:
            j += 2
            continue
        if ch == "\n" and not (raw or c == "`"):
            return -1
        j += 1
    return -1


def strip_c_family(  # noqa: C901 - one linear scanner over the C-family lexical states
    src: str, lang: str
) -> str | None:
    """``src`` without ``//`` and ``/* */`` comments, or None when the lexer could be wrong."""
    if _could_mislex(src, lang):
        return None
    out: list[str] = []
    i, n = 0, len(src)
    changed = False
    while i < n:
        c = src[i]
        if c in "\"'`":
            j = _string_end(src, i, lang)
            if j < 0:
                return None
            out.append(src[i:j])
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            if _C_KEEP.match(src, i) or _HARD_KEEP.search(src, i + 2, j):
                out.append(src[i:j])
            else:
                changed = True
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                return None
            if _C_KEEP.search(src, i, j + 2) or _HARD_KEEP.search(src, i + 2, j):
                out.append(src[i : j + 2])
            else:
                out.append("\n" * src.count("\n", i, j))  # keep the line structure
                changed = True
            i = j + 2
        else:
            j = i
            while j < n and src[j] not in "\"'`/":
                j += 1
            if j == i:
                j += 1
            out.append(src[i:j])
            i = j
    if not changed:
        return None
    lines = "".join(out).split("\n")
    before = src.split("\n")
    if len(lines) != len(before):
        return None
    kept = [new.rstrip() for new, old in zip(lines, before, strict=True) if new.strip() or not old.strip()]
    return "\n".join(kept)


def strip_block(code: str, lang: str) -> str | None:
    lang = lang.lower()
    if lang in PYTHON:
        return strip_python(code)
    if lang in C_FAMILY:
        return strip_c_family(code, lang)
    return None


class CodeComments:
    name = "code_comments"

    def transform(self, text: str, info: TextInfo) -> str:
        if info.small or NUMBERED_LINES.search(text):
            return text
        if info.kind == "code" and "```" not in text and _PY_HINT.search(text):
            return strip_python(text) or text
        if "```" not in text and "~~~" not in text:
            return text

        def one(m: re.Match[str]) -> str:
            if m.group("close") is None:
                return m.group(0)
            body = m.group(4)
            new = strip_block(body.rstrip("\n"), m.group(3))
            if new is None:
                return m.group(0)
            start = m.start(4) - m.start(0)
            end = m.end(4) - m.start(0)
            whole = m.group(0)
            return whole[:start] + new + "\n" + whole[end:]

        return _FENCE.sub(one, text)

    def apply(self, messages: list[Message], ctx: StageContext) -> list[Message]:
        return apply_text_stage(self, messages, small_chars=800)
