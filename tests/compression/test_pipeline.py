"""compress(): levels, fail-open, protection, never mutating its input, caching."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from opencompress.compression import Policy, compress
from opencompress.compression import pipeline as pl
from opencompress.compression.stages.dedup import whole_marker

ROOT = "/home/runner/work/projects/opencompress_demo/src/package"
OUTPUT = "\n".join(
    f"{ROOT}/mod_{c}.py: warning: something long happened here ({n})" for c in "abcdef" for n in ("a", "b")
)
TOOLS = [
    {"type": "function", "function": {"name": "run", "parameters": {"type": "object", "properties": {}}}}
]


def _agent() -> list[dict[str, Any]]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "run", "arguments": json.dumps({"p": ROOT})},
    }
    return [
        {"role": "system", "content": "You are a coding agent.  \n\n\n\nBe brief."},
        {"role": "user", "content": "Fix the tests please."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": OUTPUT},
        {"role": "assistant", "content": None, "tool_calls": [{**call, "id": "call_2"}]},
        {"role": "tool", "tool_call_id": "call_2", "content": OUTPUT},
        {"role": "tool", "tool_call_id": "call_3", "content": '{\n  "a": [\n    1,\n    2.50\n  ]\n}'},
    ]


def test_off_is_identity() -> None:
    msgs = _agent()
    result = compress(msgs, policy=Policy(level="off"))
    assert result.messages == msgs and result.stages_applied == () and result.aliases == {}


def test_lossless_folds_duplicates_minifies_json_and_keeps_tool_calls() -> None:
    msgs = _agent()
    snapshot = copy.deepcopy(msgs)
    tools = copy.deepcopy(TOOLS)
    result = compress(msgs, tools=tools, policy=Policy(level="lossless"))
    out = result.messages
    assert msgs == snapshot and tools == TOOLS, "input never mutated"
    assert out[0]["content"] == "You are a coding agent.\n\nBe brief."
    assert out[5]["content"] == whole_marker("the earlier result of tool call call_1")
    assert out[6]["content"] == '{"a":[1,2.50]}'
    assert [m.get("tool_calls") for m in out] == [m.get("tool_calls") for m in msgs]
    assert out[1] == msgs[1], "the last user message (the question) is untouched"
    assert {"whitespace", "dedup", "json_minify"} <= set(result.stages_applied)
    assert result.aliases == {}


def test_balanced_aliases_and_reports_the_mapping() -> None:
    result = compress(_agent(), policy=Policy(level="balanced"))
    assert result.aliases == {"§AA": ROOT}
    assert result.messages[3]["content"].startswith(f"§AA = {ROOT}\n")
    assert result.chars_after < result.chars_before


def test_protected_literals_block_changes_to_their_message() -> None:
    result = compress(_agent(), policy=Policy(level="balanced", protect=(ROOT,)))
    assert result.messages[3]["content"] == OUTPUT and result.aliases == {}


def test_inline_markers_are_stripped_and_protect_their_span() -> None:
    msgs = _agent()
    msgs[3]["content"] = f"<occ:protect>{ROOT}</occ:protect>\n" + OUTPUT
    result = compress(msgs, policy=Policy(level="balanced"))
    assert result.messages[3]["content"] == f"{ROOT}\n" + OUTPUT
    off = compress(msgs, policy=Policy(level="off"))
    assert "<occ:protect>" not in off.messages[3]["content"]


def test_a_failing_text_stage_is_skipped_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from opencompress.compression.stages.whitespace import Whitespace

    def boom(self: Any, text: str, info: Any) -> str:
        raise RuntimeError("broken stage")

    monkeypatch.setattr(Whitespace, "transform", boom)
    pl.clear_caches()
    result = compress(_agent(), policy=Policy(level="lossless"))
    pl.clear_caches()
    assert "whitespace" in result.stages_failed
    assert result.messages[6]["content"] == '{"a":[1,2.50]}', "the other stages still ran"


def test_failing_history_and_turn_stages_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from opencompress.compression.policy import DEDUP
    from opencompress.compression.stages.documents import DocumentSelection

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken stage")

    monkeypatch.setattr(DEDUP, "fold_blocks", boom)
    monkeypatch.setattr(DEDUP, "fold_whole", boom)
    monkeypatch.setattr(DocumentSelection, "apply", boom)
    pl.clear_caches()
    msgs = _agent() + [{"role": "user", "content": "why?"}]
    result = compress(msgs, policy=Policy(level="balanced"))
    pl.clear_caches()
    assert {"dedup", "dedup_blocks", "documents"} <= set(result.stages_failed)
    assert result.aliases.get("§AA") == ROOT  # aliasing still ran (the unfolded repeat adds paths)


WEIRD: list[Any] = [
    [],
    [{"role": "user"}],
    [{"content": "no role at all " * 50}],
    [{"role": "user", "content": None}],
    [{"role": "user", "content": 42}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}, {"type": "text"}]}],
    [{"role": "user", "content": [{"type": "text", "text": "a  b   \n\n\n\nc " * 100}, "not a dict", None]}],
    ["just a string", None, 3, {"role": "tool", "content": "x"}],
    [{"role": "assistant", "tool_calls": "garbage"}, {"role": {"nested": True}, "content": "§AA"}],
]


@pytest.mark.parametrize("messages", WEIRD)
@pytest.mark.parametrize("level", ["off", "lossless", "balanced", "aggressive"])
def test_never_raises_on_json_like_input(messages: list[Any], level: str) -> None:
    snapshot = copy.deepcopy(messages)
    result = compress(messages, tools=[{"weird": None}], policy=Policy(level=level))  # type: ignore[arg-type]
    assert messages == snapshot
    assert len(result.messages) == len(messages)
    assert "pipeline" not in result.stages_failed


def test_text_parts_only_are_touched() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    msgs = [
        {"role": "system", "content": [image, {"type": "text", "text": "a   \n\n\n\nb"}]},
        {"role": "user", "content": "q"},
    ]
    out = compress(msgs, policy=Policy(level="lossless")).messages
    assert out[0]["content"] == [image, {"type": "text", "text": "a\n\nb"}]


def test_not_a_list_fails_open() -> None:
    result = compress(None, policy=Policy())  # type: ignore[arg-type]
    assert result.messages == [] and result.stages_failed == ("pipeline",)


def test_warm_cache_gives_identical_output() -> None:
    msgs = _agent() + [{"role": "assistant", "content": "done"}, {"role": "user", "content": "and now?"}]
    pl.clear_caches()
    cold = compress(msgs, policy=Policy(level="balanced"))
    warm = compress(msgs, policy=Policy(level="balanced"))
    longer = compress(msgs + [{"role": "assistant", "content": "ok"}, {"role": "tool", "content": OUTPUT}])
    assert pl.PREFIX_CACHE.hits == 2, "the warm call and the next turn resumed from the cached prefix"
    pl.clear_caches()
    fresh = compress(msgs + [{"role": "assistant", "content": "ok"}, {"role": "tool", "content": OUTPUT}])
    assert cold.messages == warm.messages and cold.aliases == warm.aliases
    assert longer.messages == fresh.messages and longer.aliases == fresh.aliases


DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "compression" / "agent_traj.jsonl"
_NUMBERED_LINE = re.compile(r"^[ \t]*\d+:.*$", re.M)


@pytest.mark.skipif(not DATA.exists(), reason="evaluation data not present")
@pytest.mark.parametrize("level", ["lossless", "balanced", "aggressive"])
def test_numbered_code_lines_of_real_agent_traces_are_never_rewritten(level: str) -> None:
    """Every ``12:    code`` line of the output is a line of the input (or gone into a back-reference)."""
    for line in DATA.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        text = "\n".join(m.get("content") or "" for m in record["messages"]).replace("\r\n", "\n")
        original = set(_NUMBERED_LINE.findall(text))
        out = compress(record["messages"], policy=Policy(level=level)).messages  # type: ignore[arg-type]
        for m in out:
            for numbered in _NUMBERED_LINE.findall((m.get("content") or "").replace("\r\n", "\n")):
                assert numbered in original


def test_the_question_of_a_tool_loop_compresses_as_the_next_user_turn_will() -> None:
    """Turn 1 is a tool loop under the user's question; turn 2 adds a new user message. The
    question is history from the first tool call on, so its bytes never change between the two
    (before, it stayed verbatim in turn 1 and was re-encoded in turn 2: a cache miss on everything)."""
    question = {"role": "user", "content": 'Check this config:\n{\n  "port": 8080,\n  "debug": true\n}'}
    call = {"id": "c1", "type": "function", "function": {"name": "lint", "arguments": "{}"}}
    turn1 = [question, {"role": "assistant", "content": None, "tool_calls": [call]}]
    turn1.append({"role": "tool", "tool_call_id": "c1", "content": "ok"})
    turn2 = [
        *turn1,
        {"role": "assistant", "content": "Looks fine."},
        {"role": "user", "content": "Anything else?"},
    ]
    for level in ("lossless", "balanced"):
        first = compress(turn1, policy=Policy(level=level)).messages  # type: ignore[arg-type]
        second = compress(turn2, policy=Policy(level=level)).messages  # type: ignore[arg-type]
        assert first[:3] == second[:3]
        assert first[0]["content"] == 'Check this config:\n{"port":8080,"debug":true}'
        assert compress(turn1[:1], policy=Policy(level=level)).messages[0] == question  # the current question
