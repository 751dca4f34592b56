"""Comment stripping: only where the lexer is certain; strings, directives and shebangs stay."""

from __future__ import annotations

from opencompress.compression.base import TextInfo
from opencompress.compression.stages.code import CodeComments, strip_c_family, strip_python

STAGE = CodeComments()


def test_python_comments_go_strings_and_directives_stay() -> None:
    src = (
        "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# a comment\nx = 1  # set x\n"
        's = "# not a comment"\ny = 2  # type: int\nz = 3  # noqa: E501\n'
    )
    assert strip_python(src) == (
        '#!/usr/bin/env python\n# -*- coding: utf-8 -*-\nx = 1\ns = "# not a comment"\n'
        "y = 2  # type: int\nz = 3  # noqa: E501\n"
    )


def test_python_that_does_not_tokenize_is_left_alone() -> None:
    assert strip_python('x = """unterminated\n# c\n') is None


def test_c_family_comments_go_strings_stay() -> None:
    src = (
        '// top\nint x = 1; // one\nchar *s = "// not /* here */"; /* block\n more */\nint y;\n/*! keep */\n'
    )
    assert strip_c_family(src, "c") == 'int x = 1;\nchar *s = "// not /* here */";\nint y;\n/*! keep */\n'


def test_js_with_possible_regex_literals_is_skipped() -> None:
    assert strip_c_family('const r = /"/; // c\n', "js") is None
    assert strip_c_family("let a = 1; // c\n", "js") == "let a = 1;\n"


def test_only_fenced_known_languages_and_unnumbered_code() -> None:
    info = TextInfo(role="user", kind="prose")
    text = "Look:\n```python\nx = 1  # c\n```\n```ruby\ny = 2 # c\n```\n"
    assert STAGE.transform(text, info) == "Look:\n```python\nx = 1\n```\n```ruby\ny = 2 # c\n```\n"
    numbered = "1:x = 1  # c\n2:y = 2  # d\n" * 50
    assert STAGE.transform(numbered, TextInfo(role="user", kind="code")) == numbered
    whole = "import os\n# c\ndef f():\n    return 1  # one\n"
    assert STAGE.transform(whole, TextInfo(role="tool", kind="code")) == "import os\ndef f():\n    return 1\n"
    assert STAGE.transform(whole, TextInfo(role="tool", kind="code", small=True)) == whole
