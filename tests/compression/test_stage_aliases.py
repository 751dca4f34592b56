"""Aliasing: exact legend format, where it pays, what is never aliased, and exact expansion."""

from __future__ import annotations

import re

from opencompress.compression.base import Policy, StageContext
from opencompress.compression.stages.aliases import CODES, SIGIL, Aliases

CTX = StageContext(policy=Policy(), query="", frozen_until=-1)
ROOT = "/home/runner/work/projects/opencompress_demo/src/package"


def _obs(name: str) -> str:
    return (
        f"[File: {ROOT}/{name} (10 lines total)]\n1:x = 1\n"
        f"(Open file: {ROOT}/{name})\n(Current directory: {ROOT})"
    )


def expand(text: str, mapping: dict[str, str]) -> str:
    """Undo aliasing: drop legend lines, then put every alias back."""
    body = "".join(
        line for line in text.splitlines(keepends=True) if not re.match(rf"{SIGIL}[A-Z]{{2}} = ", line)
    )
    for code, original in mapping.items():
        body = body.replace(code, original)
    return body


def _run(contents: list[str]) -> tuple[list[str], dict[str, str]]:
    stage = Aliases()
    state = stage.new_state()
    out = [stage.step(state, text) for text in contents]
    return out, state.mapping()


def test_repeated_path_gets_a_legend_line_and_fixed_width_alias() -> None:
    out, mapping = _run([_obs("a.py")])
    assert mapping == {"§AA": ROOT}
    assert out[0] == (
        f"§AA = {ROOT}\n[File: {ROOT}/a.py (10 lines total)]\n1:x = 1\n"
        "(Open file: §AA/a.py)\n(Current directory: §AA)"
    )


def test_later_texts_reuse_the_alias_without_a_new_legend() -> None:
    out, mapping = _run([_obs("a.py"), _obs("b.py")])
    assert list(mapping) == ["§AA"]
    # b.py's path is shown whole at its first sighting, like a.py's: 2 aliases, not 3
    assert not out[1].startswith("§AA =") and out[1].count("§AA") == 2


def test_expansion_restores_every_text_exactly() -> None:
    texts = [_obs("a.py"), _obs("b.py"), f"see {ROOT}/c.py and {ROOT}/d.py\nthen {ROOT}"]
    out, mapping = _run(texts)
    assert [expand(t, mapping) for t in out] == texts


def test_short_or_rare_strings_are_not_aliased() -> None:
    out, mapping = _run(["path /usr/lib/x twice /usr/lib/x", f"once {ROOT} and {ROOT}"])
    assert mapping == {}
    assert out[0] == "path /usr/lib/x twice /usr/lib/x"


def test_quoted_occurrences_and_code_lines_stay_verbatim() -> None:
    text = f'open("{ROOT}")\nopen(\'{ROOT}\')\nx = "{ROOT}"\n`{ROOT}`'
    out, mapping = _run([text])
    assert out[0] == text and mapping == {}


def test_repeated_prose_lines_are_aliased_but_lines_with_quotes_are_not() -> None:
    line = "File updated. Please review the changes and make sure they are correct before going on."
    out, mapping = _run([f"{line}\nA\n{line}\nB\n{line}"])
    assert mapping == {"§AA": line}
    assert out[0] == f"§AA = {line}\n§AA\nA\n§AA\nB\n§AA"
    quoted = 'He said "review the changes and make sure they are correct before going on" to us all.'
    assert _run([f"{quoted}\n{quoted}\n{quoted}"])[1] == {}


def test_the_sigil_in_the_conversation_stops_new_aliasing() -> None:
    out, mapping = _run([f"price §5 {ROOT}", _obs("a.py")])
    assert mapping == {} and out[1] == _obs("a.py")


def test_apply_skips_json_and_assistant_messages() -> None:
    msgs = [
        {"role": "assistant", "content": _obs("a.py")},
        {"role": "tool", "content": '{"paths": ["' + ROOT + '", "' + ROOT + '", "' + ROOT + '"]}'},
        {"role": "tool", "content": _obs("b.py")},
    ]
    out = Aliases().apply(msgs, CTX)
    assert out[0] is msgs[0] and out[1] is msgs[1]
    assert out[2]["content"].startswith("§AA = ")


def test_codes_are_fixed_width_and_unique() -> None:
    assert len(set(CODES)) == len(CODES) == 26 * 26
    assert all(len(c) == 3 and c.startswith(SIGIL) for c in CODES)


def test_a_path_with_digits_is_shown_whole_once_before_its_prefix_alias_is_used() -> None:
    root = "/srv/ctf/dataset__2016__finals__crypto__katy"
    text = f"(Open file: {root}/run.py)\n(Current directory: {root})\n{root}/run.py:4: error\n{root}"
    out, mapping = _run([text, text])
    assert mapping == {"§AA": root}
    assert f"{root}/run.py)" in out[0] and f"{root}/run.py:4:" in out[0]
    assert "§AA/run.py:4:" in out[1] and "§AA/run.py)" in out[1]
