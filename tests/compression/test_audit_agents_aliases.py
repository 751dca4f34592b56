"""Aliases, from an outside audit of agent traces: one meaning per code in a request, never more
o200k tokens, and never an alias on a code line of a line-numbered file view."""

from __future__ import annotations

import re
from typing import Any

import pytest

from opencompress.compression import compress
from opencompress.compression.base import Policy
from opencompress.compression.pipeline import clear_caches
from opencompress.compression.restore import AliasRestorer
from opencompress.compression.stages.aliases import SIGIL, Aliases
from opencompress.compression.text.views import NUMBERED_LINE
from opencompress.tokens import count_messages, count_text

LEGEND = re.compile(rf"^({SIGIL}[A-Z]{{2}}) = (.*)$", re.M)
CODE = re.compile(rf"{SIGIL}[A-Z]{{2}}")


def _call(i: int, command: str) -> dict[str, Any]:
    args = '{"command": "' + command + '"}'
    call = {"id": f"c{i}", "type": "function", "function": {"name": "bash", "arguments": args}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def _tool(i: int, content: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": f"c{i}", "content": content}


# `find` lists a directory whose files all carry digits (shown once, so the directory's alias goes
# unused) next to one whose files come again; `git log` then needs a new alias.
FIND = "\n".join(
    [f"./src/payments/webhooks/{n}_handler.py" for n in ("stripe", "adyen", "signature")]
    + [f"./src/payments/migrations/000{k}_refunds.py" for k in (7, 8, 9)]
    # each webhook path again (every path is shown whole the first time), so its directory is aliased
    + [
        f"  {40 + k} ./src/payments/webhooks/{n}_handler.py"
        for k, n in enumerate(("stripe", "adyen", "signature"))
    ]
)
GIT_LOG = "\n".join(f" src/payments/audit.py | {n} ++--" for n in (6, 10, 14))


def _collision_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a senior engineer agent investigating a regression."},
        {"role": "user", "content": "Refunds are double-logged since last week. Find the commit."},
        _call(1, "find ./src/payments -name '*.py' | sort"),
        _tool(1, FIND),
        _call(2, "git log --stat -12 -- src/payments"),
        _tool(2, GIT_LOG),
        _call(3, "cat src/payments/audit.py"),
        _tool(3, "\n".join(f"see src/payments/audit.py line {n} in src/payments/audit.py" for n in range(4))),
    ]


def _legends(messages: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """Every legend line of the request (code -> string) and what is wrong with them: a code
    defined twice with different strings, or used in a message before any legend defines it."""
    defined: dict[str, str] = {}
    problems: list[str] = []
    for i, m in enumerate(messages):
        text = m.get("content")
        if not isinstance(text, str):
            continue
        for code, original in LEGEND.findall(text):
            if defined.setdefault(code, original) != original:
                problems.append(f"msg {i}: {code} = {original!r}, already {defined[code]!r}")
        for code in CODE.findall(LEGEND.sub("", text)):
            if code not in defined:
                problems.append(f"msg {i}: {code} used but never defined before")
    return defined, problems


@pytest.mark.parametrize("level", ["balanced", "aggressive"])
def test_no_code_is_defined_twice_and_the_alias_table_matches_every_legend(level: str) -> None:
    msgs = _collision_conversation()
    result = compress(msgs, policy=Policy(level=level))
    defined, problems = _legends(result.messages)
    assert problems == []
    assert len(defined) >= 2  # the directory alias and the new one in the `git log` message
    assert dict(result.aliases) == defined
    assert sorted(defined) == [f"{SIGIL}A{chr(ord('A') + k)}" for k in range(len(defined))]  # no gaps


def test_the_stream_restorer_turns_an_echoed_alias_into_the_path_the_prompt_meant() -> None:
    result = compress(_collision_conversation(), policy=Policy(level="balanced"))
    tool = str(result.messages[3]["content"])
    code = next(c for c, s in LEGEND.findall(tool) if s == "./src/payments/webhooks")
    restorer = AliasRestorer(result.aliases)
    echoed = restorer.feed(f"cat {code}/signature.py") + restorer.flush()
    assert echoed == "cat ./src/payments/webhooks/signature.py"


def test_earlier_messages_keep_their_bytes_when_the_conversation_grows() -> None:
    full = _collision_conversation()
    for cold in (True, False):
        clear_caches()
        outs = []
        for end in (4, 6, 8):  # each request ends in a tool result
            if cold:
                clear_caches()
            outs.append(compress(full[:end], policy=Policy(level="balanced")).messages)
        for shorter, longer in zip(outs, outs[1:], strict=False):
            frozen = max(i for i, m in enumerate(shorter) if m["role"] == "assistant")
            assert longer[:frozen] == shorter[:frozen]


def test_a_long_conversation_never_prints_a_code_with_two_meanings() -> None:
    """Listings with a long directory whose files all carry digits (its alias is chosen first,
    then goes unused: they are shown whole the first time) and a shorter path that is aliased,
    each followed by a message that needs one fresh alias: the old code gap, six times over."""
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "tidy the repository"}]
    for k in range(6):
        listing = [f"./project/database/migrations_{k}/000{j}_step.py" for j in range(3)]
        listing += [f"./src/app/handlers_{k}/view.py"] * 3
        msgs += [_call(2 * k, "ls -R"), _tool(2 * k, "\n".join(listing))]
        blame = "\n".join(f"{n} ./lib/vendor/client_{k}/session.py" for n in ("a1", "b2", "c3"))
        msgs += [_call(2 * k + 1, "git blame"), _tool(2 * k + 1, blame)]
    result = compress(msgs, policy=Policy(level="balanced"))
    defined, problems = _legends(result.messages)
    assert problems == [] and dict(result.aliases) == defined and len(defined) == 12


# --- never more tokens ------------------------------------------------------------------------

PAREN = "/cmd/internal/app/server"
FILES = ("lib_81.py", "lib_81.py", "node_modules_10.py", "app_93.ts")


def test_an_alias_that_saves_characters_but_not_tokens_is_not_made() -> None:
    msgs = [
        {"role": "user", "content": "go"},
        _call(1, "sh"),
        _tool(1, "\n".join(f"({PAREN}/{f})" for f in FILES)),
        _call(2, "sh"),
        _tool(2, "\n\n".join(f"({PAREN}/{f})" for f in FILES)),  # "(/" is one token in context
    ]
    result = compress(msgs, policy=Policy(level="balanced"))
    for before, after in zip(msgs, result.messages, strict=True):
        assert count_messages([after]) <= count_messages([before])
    assert count_messages(result.messages) <= count_messages(msgs)


def test_the_stage_never_returns_a_text_with_more_tokens() -> None:
    stage = Aliases()
    state = stage.new_state()
    texts = [
        "\n".join(f"{opener}{PAREN}/{f}{closer}" for f in FILES)
        for opener, closer in (("(", ")"), ("[", "]"), ("<", ">"), ("", ""), ("{", "}"), ("=", ";"))
    ]
    for text in texts * 2:
        assert count_text(stage.step(state, text)) <= count_text(text)


# --- never on a code line of a numbered file view ---------------------------------------------

ROOT = "/opt/northwind/payments-service/releases/current"
SCRIPT = [
    "#!/usr/bin/env bash",
    f"mkdir -p {ROOT}/config",
    f"cp deploy/templates/config.prod.yaml {ROOT}/config/app.yaml",
    f"cp deploy/templates/logging.prod.yaml {ROOT}/config/logging.yaml",
    f"chown -R svc-payments:svc-payments {ROOT}",
    f"ln -sfn {ROOT} /opt/northwind/payments-service/live",
]
VIEWS = {
    "cat -n": lambda n, line: f"{n:6}\t{line}",
    "claude code": lambda n, line: f"{n:6}→{line}",
    "swe-agent": lambda n, line: f"{n}:{line}",
}


@pytest.mark.parametrize("form", sorted(VIEWS))
def test_paths_on_numbered_view_lines_stay_verbatim(form: str) -> None:
    view = "\n".join(VIEWS[form](n, line) for n, line in enumerate(SCRIPT, 1))
    msgs = [
        {"role": "user", "content": "deploy.sh must copy logging.yaml into config/ first."},
        _call(1, "view /repo/deploy/deploy.sh"),
        _tool(1, f"Here's the result of running `cat -n` on /repo/deploy/deploy.sh:\n{view}\n"),
    ]
    out = str(compress(msgs, policy=Policy(level="balanced")).messages[2]["content"])
    lines = [line for line in out.split("\n") if NUMBERED_LINE.match(line)]
    assert [line for line in lines if SIGIL in line] == []
    assert lines == view.split("\n")  # byte for byte: an edit's old_str copied from it matches


def test_the_same_path_outside_the_view_is_still_aliased() -> None:
    view = "\n".join(f"{n:6}\t{line}" for n, line in enumerate(SCRIPT, 1))
    notes = "\n".join(
        f"(Edited file: {ROOT}/config/{name}.yaml)\n(Open file: {ROOT}/config/{name}.yaml)"
        for name in ("app", "logging", "extra")
    )  # each path shown whole once (its first sighting), then aliased
    out = Aliases().step(Aliases.new_state(), f"{view}\n{notes}")
    assert out.startswith(f"{SIGIL}AA = ")
    assert view in out and out.count(f"(Open file: {SIGIL}AA/") == 3


@pytest.mark.parametrize("form", sorted(VIEWS))
def test_a_numbered_prose_line_viewed_again_and_again_is_never_line_aliased(form: str) -> None:
    prose = "Please make sure that you always read the whole file before you edit anything here"
    view = "\n".join(VIEWS[form](n, line) for n, line in enumerate(["# Notes", prose, "x = 1"], 1))
    text = "\n".join([view] * 3)  # the same lines three times in one text: the old code paid
    stage = Aliases()
    state = stage.new_state()
    assert [stage.step(state, text) for _ in range(3)] == [text] * 3


def test_every_listed_path_is_shown_whole_at_least_once() -> None:
    """A `find_file` listing of files in one long directory became `§AA/x.py` lines throughout, so
    the path the agent's next command opens was nowhere in the prompt as written (the rule used to
    cover only paths with a digit)."""
    base = "/testbed/src/markdown_it/rules_block"
    names = ("table.py", "fence.py", "heading.py", "lheading.py", "paragraph.py", "reference.py")
    listing = "\n".join(f"{base}/{n}" for n in names)
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "Tables lose their last row."}]
    for k in range(3):  # the listing comes back, as agents re-run the same search
        msgs += [_call(k, "find_file '*.py' src"), _tool(k, f"Found {len(names)} matches:\n{listing}\n")]
    result = compress(msgs, policy=Policy(level="balanced"))
    text = "\n".join(str(m.get("content")) for m in result.messages)
    assert all(f"{base}/{n}" in text for n in names)
