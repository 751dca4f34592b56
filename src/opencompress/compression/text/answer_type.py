"""What kind of answer a question asks for, and whether a sentence contains one.

A "when" question is answered by a date and a "how many" question by a number. A sentence that
contains no date cannot answer a "when" question, however many of the question's words it repeats.
The BM25 distractors of NQ-20 are exactly such sentences: they share the question's topic words,
while the gold sentence often words the topic differently ("World War II" for "world war 2") but
holds the year. Classic question-answering systems call this expected answer type. Only the two
types that a regular expression recognises reliably are used: dates and quantities. "Who" and
"where" answers (names, places) look like any other capitalised words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b")
_DAY_MONTH = re.compile(rf"\b(?:{_MONTHS})\.?\s+\d{{1,2}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\b", re.I)
_DIGIT = re.compile(r"\d")
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|"
    r"eigh|nine)teen|(?:twen|thir|for|fif|six|seven|eigh|nine)ty|hundred|thousand|million|billion|"
    r"trillion|dozen|half)\b",
    re.I,
)
# "When should I …", "when do you …", "when to …" ask about a situation, not a date.
# ``[^\S\n]*`` rather than ``\s*`` after the line start: a blank run holding line breaks is matched
# from its last break, which is the same set of matches, and no break starts a rescan of all the
# breaks after it (``\s*`` was quadratic: 20k newlines took 5.5 s).
# "When" asks for a date at the start of a line or after a verb that introduces an indirect
# question ("do you know when", "please tell me when"); elsewhere it is usually a conjunction
# ("what happens when you heat ice"). "What/which year" asks for one wherever it stands ("in which
# year did …", "the story is set in what decade").
_NOT_A_DATE = r"(?!\s+(?:should|can|could|must|would|to|do (?:you|i|we))\b)"
_ASKS_DATE = re.compile(
    rf"(?:^|[:\n])[^\S\n]*when\b{_NOT_A_DATE}"
    rf"|\b(?:know|tell me|tell us|remember|find out|wonder|ask(?:ed)?|say|explain)\s+when\b{_NOT_A_DATE}"
    r"|\b(?:what|which) (?:year|date|day|month|century|decade)\b",
    re.I,
)
_ASKS_NUMBER = re.compile(
    r"\bhow (?:many|much|long|old|far|tall|high|big|large|deep|often)\b"
    r"|\bwhat (?:percentage|percent|number)\b",
    re.I,
)


def answer_type_check(question: str) -> Callable[[str], bool] | None:
    """A test for "this sentence holds an answer of the asked type", or ``None`` for questions
    whose answer type is not a date or a quantity."""
    if _ASKS_DATE.search(question):
        return _holds_date
    if _ASKS_NUMBER.search(question):
        return _holds_number
    return None


def _holds_date(sentence: str) -> bool:
    # Every date form has a digit and most sentences have none: \d is the cheap first test, and a
    # year (the usual form in encyclopedic text) the cheap second one.
    if _DIGIT.search(sentence) is None:
        return False
    return _YEAR.search(sentence) is not None or _DAY_MONTH.search(sentence) is not None


def _holds_number(sentence: str) -> bool:
    return _DIGIT.search(sentence) is not None or _NUMBER_WORD.search(sentence) is not None
