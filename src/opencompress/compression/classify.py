"""Cheap content classification: which kind of text is this message (or text part)?

WHY: the policy picks stages per content class (whitespace is not touched in code, logs are folded,
JSON is minified …). Classification runs on every message on the hot path, so it only uses
C-speed regex counts over the whole text and one ``json.loads`` attempt when the text starts with
``[`` or ``{``; it never tokenizes. When in doubt it answers ``prose`` (the mildest treatment for
the lossy stages is decided by the policy, not here).
"""

from __future__ import annotations

import json
import re
from typing import Literal

from opencompress.compression.text.views import NUMBERED_LINES

Kind = Literal["empty", "json", "diff", "code", "log", "documents", "fewshot", "prose"]
KINDS: tuple[Kind, ...] = ("empty", "json", "diff", "code", "log", "documents", "fewshot", "prose")

_CODE_START = re.compile(
    r"^[ \t]*(?:def |class |import |from \S+ import |return\b|if |elif |else:|for |while |try:|except\b"
    r"|with |async |await |function\b|const |let |var |#include|#define|public |private |protected "
    r"|static |fn |func |package |using |namespace |@\w+)",
    re.M,
)
_CODE_END = re.compile(r"[;{}][ \t]*$", re.M)
_INDENTED = re.compile(r"^(?: {4}|\t)+\S", re.M)
_LOG_WORD = re.compile(
    r"\b(?:DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL|TRACE|Traceback|PASSED|FAILED"
    r"|Requirement already satisfied|Collecting|Downloading|Installing)\b"
)
_LOG_START = re.compile(r"^(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\[?\d\d:\d\d:\d\d|[$#>] \S)", re.M)
_DIFF_LINE = re.compile(r"^(?:diff --git |@@ -\d+(?:,\d+)? \+\d+|\+\+\+ |--- a/|index [0-9a-f]{7,})", re.M)
_DOC_HEADER = re.compile(r"^(?:Document \[?\d+\]?|\[\d+\]|#{1,3} \S|Title: |Source: |Passage \d+)", re.M)
_SHOT = re.compile(r"^(?:Q|Question|Input|Problem|Example \d+)\s*:", re.M)
_ANSWER = re.compile(r"^(?:A|Answer|Output|Solution|Let's think)\b", re.M)
TERMINAL_CODE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[=>78])")
"""A terminal control sequence: CSI (SGR colours ``\\x1b[31m``, cursor moves, erase-line), a
character-set switch or a keypad/cursor-save code. They draw nothing; the classifier looks through
them (``\\x1b[32mPASSED`` hides the word ``PASSED`` from ``\\b``) and the ``terminal`` stage drops
them. OSC sequences (window titles, hyperlinks) are not matched: a hyperlink carries its address."""
SAMPLE_HEAD = 6000
SAMPLE_TAIL = 2000
"""Line-shape counts are taken on the head and tail of long texts: the class of a 1 MB log is
clear from its first and last pages, and the hot path must not scan megabytes six times."""


def is_json_document(text: str) -> bool:
    """True when the whole text (modulo surrounding whitespace) is one JSON array or object."""
    stripped = text.strip()
    if len(stripped) < 2 or stripped[0] not in "[{" or stripped[-1] not in "]}":
        return False
    try:
        json.loads(stripped)
    except (ValueError, RecursionError):
        return False
    return True


def classify(text: str) -> Kind:
    """The content class of ``text`` (see :data:`KINDS`)."""
    if not text or text.isspace():
        return "empty"
    if is_json_document(text):
        return "json"
    if len(text) >= 1500 and len(_DOC_HEADER.findall(text)) >= 3:
        return "documents"
    if len(text) > SAMPLE_HEAD + SAMPLE_TAIL:
        text = text[:SAMPLE_HEAD] + "\n" + text[-SAMPLE_TAIL:]
    if "\x1b" in text:
        text = TERMINAL_CODE.sub("", text)
    lines = text.count("\n") + 1
    if lines >= 3 and len(_DIFF_LINE.findall(text)) >= 3:
        return "diff"
    if lines >= 4 and len(_SHOT.findall(text)) >= 3 and len(_ANSWER.findall(text)) >= 3:
        return "fewshot"
    nonblank = max(1, lines - text.count("\n\n"))
    numbered = len(NUMBERED_LINES.findall(text))
    code = len(_CODE_START.findall(text)) + len(_CODE_END.findall(text)) + len(_INDENTED.findall(text))
    log = len(_LOG_WORD.findall(text)) + len(_LOG_START.findall(text))
    if numbered * 2 >= nonblank or (lines >= 3 and code * 2 >= nonblank and code > log):
        return "code"
    if lines >= 3 and log * 3 >= nonblank:
        return "log"
    return "prose"
