"""Drop low-information function words from prose, under hard-keep rules.

Without a language model the only safe lexical pruning is a short list of words whose loss a
reader (or an LLM) restores from context: articles, copulas, relativisers and filler adverbs. The
design brief measured what goes wrong with frequency-based pruning (it dropped "six", "three", "How
much"), so everything else is kept: numbers and number words, negations, capitalised words, words
with digits or symbols, `code`, quoted text, URLs and paths. Only lines that look like prose are
touched (no code, JSON, logs, tables, nothing inside a fenced code block), and at most ``max_drop``
of the words outside fences go.

What counts as a word: a whitespace-delimited token, less opening brackets in front and closing
punctuation behind. A list word glued to anything else ("a.m.", "a.x", "e.g.", "the-end", "*a*",
"that's") is not a candidate: it is part of an abbreviation, identifier or markup.

Quoted text (straight, typographic and guillemet quotes) is found by a linear scan, not by pairing
quote characters along the line: an ambiguous quote character (``"`` ``'`` and the curly ones, which
double as inch marks and apostrophes) opens a quote only at a word start and closes one only at a
word end, so ``5" screen`` or ``don't`` never shift the pairing. When in doubt the span protected
grows (up to the last closer before the next opener; an unclosed quote runs to the end of its
line): over-protection costs a few words of reduction, under-protection alters a quotation.

Single letters are variables until proven otherwise ("Let a and b be sides; area is a times b").
The indefinite article "a" is the only one-letter word on the list, and it is dropped only where it
reads as an article: a bare token whose next word on the line starts with a letter, is longer than
one letter and can open a noun phrase (not a conjunction, preposition, pronoun, auxiliary or an
operator word such as "times", "plus", "over"), and whose previous word is neither a single letter
nor an operator symbol. Every other one-letter token (and an "a" failing that test) is a variable,
and no word next to a variable is dropped either: "x is 5" must not become "x 5".
"""

from __future__ import annotations

import bisect
import re

from opencompress.compression.text.demos import find_demonstrations
from opencompress.compression.text.segments import announces_context, split_documents

# Dropped in this order (then left to right) until the cap: fillers carry the least.
# Only words whose loss leaves the meaning as it was. Not on the list, because they change it:
# hedges and degree words ("rather", "pretty", "quite", "fairly", "somewhat", "basically",
# "essentially": "pretty sure" is not "sure", "store credit rather than cash" is not "store credit
# than cash"), "just"/"simply" (they mean "only": "just 5 minutes"), "been"/"being" ("has been
# notified" is passive, "has notified" is not), negations, comparatives and quantifiers.
_TIERS: tuple[frozenset[str], ...] = (
    frozenset("very really truly literally actually definitely certainly indeed".split()),
    frozenset("the a an".split()),
    frozenset("is are was were be am that".split()),
)
_TIER_OF: dict[str, int] = {w: i for i, tier in enumerate(_TIERS) for w in tier}
_OPEN = "([{"
_CLOSE = ".,;:!?)]}…"
# A whole whitespace-delimited token that is a listed word between opening brackets and closing
# punctuation: exactly the tokens whose ``_bare`` word is on the list.
_LISTED = re.compile(
    r"(?<!\S)["
    + re.escape(_OPEN)
    + r"]*(?:"
    + "|".join(sorted(_TIER_OF, key=len, reverse=True))
    + r")["
    + re.escape(_CLOSE)
    + r"]*(?!\S)"
)
# Words that cannot follow the article "a": an "a" in front of them is a variable or a label.
_NOT_AFTER_ARTICLE = frozenset(
    (
        "and or but nor yet so than then "
        "times plus minus over divided multiplied equals equal squared cubed mod modulo xor "
        "is are was were be been being am has have had do does did "
        "can could will would shall should may might must "
        "of in on at by to with from into onto for as via per vs versus "
        "the a an this that these those it its he she they we you i me him her them us "
        "his their our your my which who whom whose what not no "
        "priori posteriori fortiori la"
    ).split()
)
_OPERATORS = frozenset("+-*/=<>^%×÷·−–±≤≥≠≈→←⇒")
# Ambiguous quote characters (apostrophes, inch marks) open at a word start and close at a word end;
# bracket-like ones (guillemets, corner brackets) pair unconditionally.
# Scanned in this order; a character that closed a quote opens none ("«a» b" is not an open »…«),
# so each pair comes before the pairs whose opener it closes with.
_QUOTE_PAIRS: dict[str, str] = {
    '"': '"',
    "'": "'",
    "„": "“”",
    "‚": "‘’",
    "“": "”",
    "‘": "’",
    "«": "»",
    "‹": "›",
    "「": "」",
    "『": "』",
    "”": "”",
    "»": "«",
    "›": "‹",
}
_AMBIGUOUS_QUOTES = frozenset("\"'“”„‘’‚")
_ALL_QUOTES = "".join(sorted(set(_QUOTE_PAIRS) | set("".join(_QUOTE_PAIRS.values()))))
_QUOTE_EVENT = re.compile("[" + re.escape(_ALL_QUOTES) + r"]|\n[ \t]*\n")
_BEFORE_OPENER = frozenset(_OPEN + "<—–-/" + _ALL_QUOTES)
# Every pattern is anchored so that a long run is scanned once (no quadratic backtracking).
_PROTECTED = re.compile(
    r"`[^`\n]*`"  # inline code
    r"|\b(?:https?|ftp)://\S+|\bwww\.\S+"  # URLs
    r"|(?<!\S)\S*[/\\]\S*"  # paths: from the start of a non-space run, once per run
)
_WORD = re.compile(r"\S+")
_ARTICLES = frozenset({"the", "a", "an"})
# "a few" is not "few", "a little" is not "little", "a lot" is not "lot", "a third" is not "third":
# the indefinite article in front of a quantity word is part of the quantity.
_QUANTITY_WORDS = frozenset(
    (
        "few little lot lots bit couple great good dozen score handful number half quarter third "
        "fourth fifth tenth hundred thousand million billion trillion while majority minority "
        "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty"
    ).split()
)
# An intensifier after a negation is what the negation negates: "not very good" is not "not good",
# "not really" is not "not".
_NEGATIONS = frozenset("not no never nor neither hardly barely scarcely without".split())
# An article in front of a name or a quantity is part of it ("the Denver Broncos", "the 50th").
_NAME_OR_NUMBER = re.compile(r"[ \t]+[\"“'(]?(?:[A-Z]|\d)")
_CODE_LINE = re.compile(r"[{}|]|;\s*$|\s=\s|[=!<>]=|=>|->|::|</?[A-Za-z][^<>]*>|^\s{2,}|^\s*[$#>]|\t")
_FENCE = re.compile(r"[ \t]*(?:```|~~~)")
_PROSE_CHARS = " ,.;:'’\"“”()[]-–—!?%$&"
# ``[^\W_]`` is exactly ``str.isalnum``: a character that is neither is not prose.
_NOT_PROSE = re.compile(r"[^\w" + re.escape(_PROSE_CHARS) + r"]|_")


def _is_prose_line(line: str) -> bool:
    if len(line) < 40 or _CODE_LINE.search(line):
        return False
    body = line.rstrip("\r\n")
    return len(body) - len(_NOT_PROSE.findall(body)) >= 0.97 * len(body)


def _outside_fences(text: str) -> list[tuple[int, str]]:
    """(offset, line) of every line outside fenced code blocks (```` ``` ```` or ``~~~``), fence
    lines excluded. An unclosed fence runs to the end: code the writer forgot to close is still code."""
    out: list[tuple[int, str]] = []
    fenced = False
    pos = 0
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            out.append((pos, line))
        pos += len(line)
    return out


def _opens(text: str, i: int) -> bool:
    if text[i] not in _AMBIGUOUS_QUOTES:
        return True
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return (before.isspace() or before in _BEFORE_OPENER) and not after.isspace()


def _closes(text: str, i: int) -> bool:
    if text[i] not in _AMBIGUOUS_QUOTES:
        return True
    before = text[i - 1] if i else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return not before.isspace() and not (after.isalnum() or after == "_")


def _pair_spans(
    text: str, events: list[tuple[int, str]], opener: str, closers: str, closed: set[int]
) -> list[tuple[int, int]]:
    """The quotations opened by ``opener``; adds the position of each closer used to ``closed``."""
    spans: list[tuple[int, int]] = []
    open_at = last_close = -1
    line_end = -1  # the first line break at or after the last unclosed quote (or len(text))
    for pos, ch in [*events, (len(text), "\n")]:  # a final break ends what is still open
        if ch[0] == "\n" or (ch == opener and pos not in closed and _opens(text, pos)):
            if open_at >= 0 and last_close >= 0:
                spans.append((open_at, last_close + 1))
                closed.add(last_close)
            elif open_at >= 0:  # unclosed: to the end of its line
                if line_end < open_at:  # searched again only past the last break found: linear
                    line_end = text.find("\n", open_at)
                    line_end = len(text) if line_end < 0 else line_end
                spans.append((open_at, line_end))
            open_at = -1 if ch[0] == "\n" else pos
            last_close = -1
        elif open_at >= 0 and ch in closers and _closes(text, pos):
            last_close = pos
    return spans


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every quotation in ``text``, quote marks included (see the module doc).

    A quote never crosses a blank line. Linear: one regex pass collects the quote characters, then
    one pass per opening character that occurs in the text."""
    events = [(m.start(), m.group()) for m in _QUOTE_EVENT.finditer(text)]
    spans: list[tuple[int, int]] = []
    closed: set[int] = set()  # positions of the quote characters that closed a quotation
    for opener, closers in _QUOTE_PAIRS.items():
        if opener in text:
            spans.extend(_pair_spans(text, events, opener, closers, closed))
    return spans


def _protected_mask(text: str) -> bytearray:
    """One byte per character of ``text``: 1 where no word may be dropped."""
    mask = bytearray(len(text))
    spans = quote_spans(text)
    spans.extend((m.start(), m.end()) for m in _PROTECTED.finditer(text))
    filled = 0  # spans overlap (unclosed quotes on one line all end at its end): fill each byte once
    for start, end in sorted(spans):
        start = max(start, filled)
        if end > start:
            mask[start:end] = b"\x01" * (end - start)
            filled = end
    return mask


def _bare(token: str) -> tuple[int, str, int]:
    """(leading brackets, word, trailing punctuation) of a whitespace-delimited token."""
    lead = len(token) - len(token.lstrip(_OPEN))
    trail = len(token) - len(token.rstrip(_CLOSE))
    return lead, token[lead : len(token) - trail], trail


def _is_operator(token: str) -> bool:
    return all(c in _OPERATORS for c in token)


def _reads_as_article(tokens: list[str], k: int) -> bool:
    """Is the token ``a``/``A`` at ``k`` the indefinite article (rather than a variable or label)?"""
    if tokens[k] not in ("a", "A") or k + 1 >= len(tokens):
        return False
    nxt = tokens[k + 1]
    word = _bare(nxt)[1].lower()
    if not nxt[0].isalpha() or len(word) < 2 or word in _NOT_AFTER_ARTICLE:
        return False
    if k > 0:
        prev = _bare(tokens[k - 1])[1]
        if (len(prev) == 1 and prev.isalpha()) or _is_operator(tokens[k - 1]):
            return False
    return True


def _negates(token: str) -> bool:
    word = _bare(token)[1].lower()
    return word in _NEGATIONS or word.endswith(("n't", "n’t"))


def _line_candidates(line: str, pos: int, mask: bytearray) -> list[tuple[int, int, int]]:
    """(tier, start, end) of the droppable words of one prose line starting at offset ``pos``."""
    # Most tokens are not on the list: a regex finds the ones that are, and only those (and their
    # neighbours, for the variable and article rules) are looked at in Python.
    if _LISTED.search(line) is None:
        return []
    matches = list(_WORD.finditer(line))
    tokens = [m.group() for m in matches]
    starts = [m.start() for m in matches]
    memo: dict[int, bool] = {}

    def variable(k: int) -> bool:
        if k < 0 or k >= len(tokens):
            return False
        if k not in memo:
            word = _bare(tokens[k])[1]
            single = len(word) == 1 and word.isalpha() and word != "I"
            memo[k] = single and not (word in ("a", "A") and _reads_as_article(tokens, k))
        return memo[k]

    out: list[tuple[int, int, int]] = []
    for listed in _LISTED.finditer(line):
        k = bisect.bisect_left(starts, listed.start())
        lead, word, trail = _bare(tokens[k])
        tier = _TIER_OF[word]
        if lead and trail:  # "(a)", "[the]": a label or a mention, not filler
            continue
        if variable(k - 1) or variable(k + 1):
            continue
        if word == "a" and variable(k):
            continue
        start = pos + starts[k] + lead
        end = start + len(word)
        if mask.find(1, start, end) >= 0:
            continue
        if word in _ARTICLES and _NAME_OR_NUMBER.match(line, end - pos):
            continue
        if word in ("a", "an") and k + 1 < len(tokens) and _bare(tokens[k + 1])[1].lower() in _QUANTITY_WORDS:
            continue
        if tier == 0 and k > 0 and _negates(tokens[k - 1]):
            continue
        out.append((tier, start, end))
    return out


def prune_prose(text: str, max_drop: float = 0.2) -> str | None:
    """``text`` with low-information words removed, or ``None`` when nothing was removed."""
    if text.lstrip()[:1] in ("{", "["):
        return None
    # Retrieved context and few-shot demonstrations are evidence and examples to imitate: their
    # function words are part of answer spans ("beneath the liver") and of the answer format ("The
    # answer is 4"). The selection stages cut them only at sentence/demonstration boundaries.
    # Measured on NQ-20 at the aggressive budget: pruning them too cost 6 points of answer
    # retention for 2 points of reduction.
    if announces_context(text) or find_demonstrations(text, min_demos=1) or split_documents(text):
        return None
    lines = _outside_fences(text)
    cap = int(sum(len(_WORD.findall(line)) for _, line in lines) * max_drop)
    if cap <= 0:
        return None
    prose = [(pos, line) for pos, line in lines if _is_prose_line(line)]
    if not prose:
        return None
    mask = _protected_mask(text)
    candidates: list[tuple[int, int, int]] = []
    for pos, line in prose:
        candidates.extend(_line_candidates(line, pos, mask))
    if not candidates:
        return None
    chosen = sorted(sorted(candidates)[:cap], key=lambda c: c[1])
    out: list[str] = []
    cursor = 0
    for _, start, end in chosen:
        if start < cursor:
            continue
        out.append(text[cursor:start])
        # Remove the word with one following space (or a preceding one before punctuation).
        if end < len(text) and text[end] == " ":
            end += 1
        elif out and out[-1].endswith(" "):
            out[-1] = out[-1][:-1]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
