"""Recognising line-numbered file views, the form agents read source files in.

Every agent shows a file with its line numbers, and each framework writes them its own way:
SWE-agent ``201:code``, grep ``201:`` and ``201|``, box-drawing viewers ``201│``, ``cat -n``
``   201<TAB>code`` and Claude Code's Read tool ``   201→code``. A viewed line is code the agent may
copy back verbatim into an edit (``old_str`` must match the file byte for byte), so the stages that
fold, trim or alias lines must all recognise the same forms; one pattern here keeps them agreeing.
"""

from __future__ import annotations

import re

_FORM = r"[ \t]*\d+(?:[:|│→]|\t)"

NUMBERED_LINE = re.compile(_FORM)
"""Use with ``.match(text, line_start)``: the line at ``line_start`` is a numbered view line."""

NUMBERED_LINES = re.compile("^" + _FORM, re.M)
"""Use with ``.search``/``.findall`` over a whole text: the lines that are numbered view lines."""
