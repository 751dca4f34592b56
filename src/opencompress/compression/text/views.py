"""Recognising line-numbered file views, the form agents read source files in.

Every agent shows a file with its line numbers, and each framework writes them its own way:
SWE-agent ``201:code``, grep ``201:`` and ``201|``, box-drawing viewers ``201│``, ``cat -n``
``   201<TAB>code`` and Claude Code's Read tool ``   201→code``. A viewed line is code the agent may
copy back verbatim into an edit (``old_str`` must match the file byte for byte), so the stages that
fold, trim or alias lines must all recognise the same forms; one pattern here keeps them agreeing.

Two look-alikes are not views:

* a log line that starts with a time of day (``12:30:01 INFO …``, ``09:15:02.123``, ``4:05.250``):
  a number, a colon and two digits followed by another ``:`` or a decimal point is a clock, not a
  line number followed by code; counting such lines as views made timestamped logs "code", never
  folded and never trimmed;
* a tab-separated row that starts with a number (``17<TAB>Alice<TAB>30``): ``cat -n`` and ``nl``
  right-align the number in six columns, so the tab form needs leading padding (or a number of six
  digits or more, which fills the column).
"""

from __future__ import annotations

import re

_CLOCK = r"\d{1,2}:\d\d(?::\d\d|[.,]\d)"
_FORM = rf"[ \t]*(?!{_CLOCK})\d+[:|│→]|[ \t]+\d+\t|\d{{6,}}\t"

NUMBERED_LINE = re.compile(_FORM)
"""Use with ``.match(text, line_start)``: the line at ``line_start`` is a numbered view line."""

NUMBERED_LINES = re.compile(f"^(?:{_FORM})", re.M)
"""Use with ``.search``/``.findall`` over a whole text: the lines that are numbered view lines."""
