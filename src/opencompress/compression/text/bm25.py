"""A small deterministic BM25 (Okapi) ranker over a cheap regex word split.

Why our own: 40 lines cover what the stages need (rank 5–200 short texts against one question),
without numpy/scipy and without any download. Scores depend only on the texts and the query, so the
same input always yields the same ranking (ties are broken by position by the callers)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

# A compact English stop list: function words that carry no topical signal for ranking. Kept inline
# (no download) and deliberately short: negations and number words are NOT here, they matter.
STOP_WORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he he'd he's her here hers herself him himself his how i i'd i'm i've if in into is it
    it's its itself let's me more most my myself of off on once only or other ought our ours ourselves
    out over own same she she'd she's should so some such than that that's the their theirs them
    themselves then there there's these they they'd they're they've this those through to too under
    until up very was we we'd we're we've were what what's when when's where where's which while who
    who's whom why why's with would you you'd you'll you're you've your yours yourself yourselves will
    shall may might must also s t just""".split()
)

# Abbreviations questions use for names that documents spell out ("president of the usa" vs
# "President of the United States"); the question's own word stays a term too.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "us": ("us", "united", "states"),
    "usa": ("usa", "united", "states"),
    "uk": ("uk", "united", "kingdom", "britain"),
    "un": ("un", "united", "nations"),
    "eu": ("eu", "european", "union"),
}

_CARDINALS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
).split()
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out += letters
            n -= value
    return out


# A small number in a question may be written as a Roman numeral or a word in the documents
# ("world war 2" vs "World War II", "season 3" vs "third season"), and a number word as digits
# ("second world war" vs "World War 2").
NUMERALS: dict[str, tuple[str, ...]] = {
    str(n): (str(n), _roman(n), _CARDINALS[n - 1], _ORDINALS[n - 1]) for n in range(1, 21)
}
NUMERALS.update(
    {word: (word, str(n), _roman(n)) for n in range(1, 21) for word in (_CARDINALS[n - 1], _ORDINALS[n - 1])}
)

# Words that frame a question in prompt templates ("Question: … Answer:") rather than ask anything.
QUERY_FRAME_WORDS: frozenset[str] = frozenset({"question", "answer", "answers", "q", "a"})


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits runs, inner apostrophes kept)."""
    return _WORD.findall(text.lower())


def terms(text: str) -> list[str]:
    """Content terms: :func:`words` without stop words."""
    return [w for w in words(text) if w not in STOP_WORDS]


STEM_PREFIX = 4


_HAS_DIGIT = re.compile(r"\d")
_STEMS: dict[str, str] = {}
_STEM_CACHE_SIZE = 200_000


def stem(word: str) -> str:
    """Truncation stemming: possessive dropped, then the first :data:`STEM_PREFIX` letters.

    Crude on purpose: it conflates "Europe/European", "Africa/African", "captain/captained",
    "Olympics/Olympic" at zero cost, and BM25's IDF absorbs most of the false merges. Measured on
    the NQ-20 dev split (gold passage within the top 8 of 20): exact words 0.928, suffix stripping
    0.948, 5-letter prefixes 0.948, 4-letter prefixes 0.965. Tokens with digits are kept whole
    (1901 must not match 1902)."""
    stemmed = _STEMS.get(word)
    if stemmed is None:
        stemmed = word[:-2] if word.endswith(("'s", "’s")) else word
        if len(stemmed) > STEM_PREFIX and not _HAS_DIGIT.search(stemmed):
            stemmed = stemmed[:STEM_PREFIX]
        if len(_STEMS) < _STEM_CACHE_SIZE:  # bounded memo: words repeat, stemming is the hot spot
            _STEMS[word] = stemmed
    return stemmed


def index_terms(text: str) -> list[str]:
    """Stemmed content terms of a text to be ranked."""
    memo = _STEMS.get
    out: list[str] = []
    for w in _WORD.findall(text.lower()):
        if w not in STOP_WORDS:
            s = memo(w)
            out.append(s if s is not None else stem(w))
    return out


def query_terms(query: str) -> list[str]:
    """Distinct stemmed content terms of a question, first-seen order, without template framing
    words, plus each adjacent pair glued together so "gall bladder" also finds "gallbladder", plus
    the other spellings of abbreviations and small numbers (:data:`ABBREVIATIONS`,
    :data:`NUMERALS`)."""
    raw = [w for w in words(query) if w not in STOP_WORDS and w not in QUERY_FRAME_WORDS]
    seen: dict[str, None] = {}
    for w in raw:
        for form in ABBREVIATIONS.get(w) or NUMERALS.get(w) or (w,):
            seen.setdefault(stem(form), None)
    for left, right in zip(raw, raw[1:], strict=False):
        seen.setdefault(stem(left + right), None)
    return list(seen)


class BM25:
    """Okapi BM25 over a fixed list of documents given as term lists.

    ``k1`` and ``b`` are the textbook defaults; IDF uses the non-negative ``log(1 + (N - df + .5) /
    (df + .5))`` form so a term present in every document scores ~0 instead of negative."""

    def __init__(
        self,
        docs: Sequence[Sequence[str]],
        *,
        k1: float = 1.2,
        b: float = 0.75,
        vocabulary: Collection[str] | None = None,
    ) -> None:
        """``vocabulary``: when the query is known up front, count only its terms (scores are
        identical for that query; building the index is several times cheaper)."""
        self.k1 = k1
        self.b = b
        if vocabulary is None:
            self.tfs: list[Counter[str]] = [Counter(d) for d in docs]
        else:
            vocab = frozenset(vocabulary)
            self.tfs = [Counter([t for t in d if t in vocab]) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg_len = (sum(self.lengths) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1.0 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def score(self, query: Iterable[str], index: int) -> float:
        tf = self.tfs[index]
        length = self.lengths[index]
        norm = self.k1 * (1.0 - self.b + self.b * (length / self.avg_len if self.avg_len else 0.0))
        total = 0.0
        for term in query:
            f = tf.get(term)
            if f:
                total += self.idf[term] * f * (self.k1 + 1.0) / (f + norm)
        return total

    def scores(self, query: Sequence[str]) -> list[float]:
        return [self.score(query, i) for i in range(len(self.tfs))]


def rank(scores: Sequence[float]) -> list[int]:
    """Indices by descending score; ties keep the original order (deterministic)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))
