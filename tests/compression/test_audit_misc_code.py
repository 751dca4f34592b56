"""code_comments: string forms where a backslash is not an escape, or that the lexer does not model."""

from __future__ import annotations

import pytest

from opencompress.compression.stages.code import strip_block, strip_c_family, strip_python


def test_csharp_verbatim_string_backslash_is_not_an_escape() -> None:
    src = (
        'var dir = @"C:\\temp\\" + "// keep me" + name;\n// helper comment to strip\nConsole.WriteLine(dir);'
    )
    assert (
        strip_c_family(src, "cs") == 'var dir = @"C:\\temp\\" + "// keep me" + name;\nConsole.WriteLine(dir);'
    )


def test_csharp_verbatim_string_doubled_quote_and_line_breaks() -> None:
    src = 'var q = @"say ""hi"" // not a comment\nsecond line /* nor this */";\n// helper comment\nrun(q);'
    out = strip_c_family(src, "csharp")
    assert out == 'var q = @"say ""hi"" // not a comment\nsecond line /* nor this */";\nrun(q);'
    interp = 'var p = $@"{root}\\" + "// keep" + x;\n// drop\nuse(p);'
    assert strip_c_family(interp, "cs") == 'var p = $@"{root}\\" + "// keep" + x;\nuse(p);'


def test_verbatim_syntax_under_another_tag_is_left_alone() -> None:
    src = 'NSString *dir = @"C:\\temp\\" + "// keep me";\n// helper comment\n'
    assert strip_c_family(src, "c") is None


def test_go_raw_string_has_no_escapes() -> None:
    src = "s := `raw \\` // comment after the raw string\n// plain comment\nuse(s)"
    assert strip_c_family(src, "go") == "s := `raw \\`\nuse(s)"
    multi = 'p := `C:\\dir\\` + "// in a string"\n// plain comment\nuse(p)'
    assert strip_c_family(multi, "go") == 'p := `C:\\dir\\` + "// in a string"\nuse(p)'


def test_js_template_literal_with_substitution_is_left_alone() -> None:
    src = "const s = `a ${`nested // not a comment`} b`;\n// plain comment\nf(s);"
    assert strip_c_family(src, "js") is None
    plain = "const s = `multi\nline // not a comment`;\n// plain comment\nf(s);"
    assert strip_c_family(plain, "js") == "const s = `multi\nline // not a comment`;\nf(s);"


@pytest.mark.parametrize(
    ("src", "lang"),
    [
        ('let s = #"C:\\dir\\"# + "// keep";\n// comment\n', "swift"),
        ('auto s = R"(// keep)";\n// comment\n', "cpp"),
        ('String s = """\n// keep\n""";\n// comment\n', "java"),
        ("long big = 1'000'000; char c = '\"'; // comment\n// comment\n", "cpp"),
    ],
)
def test_raw_forms_the_lexer_does_not_model_are_skipped(src: str, lang: str) -> None:
    assert strip_c_family(src, lang) is None


def test_a_hash_inside_an_ordinary_string_does_not_block_stripping() -> None:
    assert strip_c_family('printf("#"); // drop me\n', "c") == 'printf("#");\n'


def test_rust_raw_strings_are_never_touched() -> None:
    assert strip_block('let s = r#"C:\\dir\\"# ; // comment\n// another comment\n', "rust") is None


def test_python_raw_and_triple_quoted_strings_go_through_the_tokenizer() -> None:
    src = 'p = r"\\d+\\" # no"  # trailing comment\nq = """\n# not a comment\n"""\n# a comment\nx = 1'
    assert strip_python(src) == 'p = r"\\d+\\" # no"\nq = """\n# not a comment\n"""\nx = 1'
