"""Property tests over generated agent-like conversations.

* determinism: the same input gives byte-identical output, cold or warm cache;
* prefix stability: every message before the last assistant message of turn N compresses to the
  same bytes whatever is appended after it, with no exception: the last user message is the
  question (never altered) only while it is in the current turn; once tool turns follow it, it is
  history and compresses as every later turn will compress it;
* never larger: no message's text grows;
* JSON stays valid, equal JSON (same key order) after ``lossless``, unless it was folded into a
  back-reference to an identical earlier text.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression import Policy, compress
from opencompress.compression import pipeline as pl
from opencompress.compression.classify import is_json_document
from opencompress.compression.stages.dedup import whole_marker

ROOTS = ["/home/runner/work/projects/opencompress_demo/src", "/__Users__someone__Dataset_Dev__2016__crypto"]
LINES = st.one_of(
    st.builds(lambda r, k: f"(Open file: {r}/mod_{k}.py)", st.sampled_from(ROOTS), st.integers(0, 3)),
    st.builds(lambda r: f"(Current directory: {r})", st.sampled_from(ROOTS)),
    st.builds(lambda n: f"step {n} ok", st.integers(0, 9)),
    st.builds(
        lambda k, n: f"Requirement already satisfied: pkg{k} in /env/lib/site ({n}.0)",
        st.integers(0, 5),
        st.integers(0, 3),
    ),
    st.builds(
        lambda n, k: f"{n}:    value_{k} = compute({n})  # note", st.integers(1, 30), st.integers(0, 3)
    ),
    st.sampled_from(
        [
            "File updated. Please review the changes and make sure they are correct before continuing.",
            "The quick brown fox jumps over the lazy dog again and again.",
            "",
            "```",
            "```python",
            "   indented  text   ",
            'x = "quoted /home/runner/work/projects/opencompress_demo/src value"',
            "Traceback (most recent call last):",
        ]
    ),
)
TEXT = st.lists(LINES, min_size=1, max_size=14).map("\n".join)
JSON_DOC = st.recursive(
    st.integers(-5, 500) | st.sampled_from(["a  b", ROOTS[0], "§AB", 1.5]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["k", "z", "a"]), c, max_size=3),
    max_leaves=8,
).map(lambda v: json.dumps({"result": v}, indent=2))


@st.composite
def conversations(draw: Any) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": draw(TEXT)}]
    for i in range(draw(st.integers(1, 9))):
        kinds = ["user", "tool", "tool", "assistant", "assistant_call", "json", "repeat", "log"]
        kind = draw(st.sampled_from(kinds))
        earlier = [
            m["content"] for m in msgs if isinstance(m.get("content"), str) and m["role"] != "assistant"
        ]
        if kind == "repeat" and earlier:  # an identical output, or an earlier block inside new text
            text = draw(st.sampled_from(earlier))
            extra = draw(st.sampled_from(["", "\nnew trailing line here", "new leading line here\n"]))
            content = extra + text if extra.endswith("\n") else text + extra
            msgs.append({"role": "tool", "tool_call_id": f"call_{i}", "content": content})
        elif kind == "log":
            n = draw(st.integers(20, 60))
            bad = draw(st.integers(0, n - 1))
            lines = [f"[{k:03d}] Downloading chunk {k} of {n} from {ROOTS[0]}/data" for k in range(n)]
            lines[bad] = f"[{bad:03d}] ERROR chunk {bad} failed"
            msgs.append({"role": "tool", "tool_call_id": f"call_{i}", "content": "\n".join(lines)})
        elif kind == "assistant_call":
            call = {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": "run", "arguments": '{"p": 1}'},
            }
            msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "json":
            msgs.append({"role": "tool", "tool_call_id": f"call_{i}", "content": draw(JSON_DOC)})
        else:
            msgs.append({"role": kind, "content": draw(TEXT)})
    return msgs


def _last(msgs: list[dict[str, Any]], role: str) -> int:
    return max((i for i, m in enumerate(msgs) if m.get("role") == role), default=-1)


LEVELS = st.sampled_from(["lossless", "balanced", "aggressive"])


@settings(max_examples=80, deadline=None)
@given(conversations(), LEVELS)
def test_deterministic_cold_and_warm(msgs: list[dict[str, Any]], level: str) -> None:
    policy = Policy(level=level)  # type: ignore[arg-type]
    pl.clear_caches()
    cold = compress(msgs, policy=policy)
    warm = compress(msgs, policy=policy)
    pl.clear_caches()
    again = compress(msgs, policy=policy)
    assert json.dumps(cold.messages) == json.dumps(warm.messages) == json.dumps(again.messages)
    assert cold.aliases == warm.aliases == again.aliases


@settings(max_examples=120, deadline=None)
@given(conversations(), conversations(), LEVELS, st.booleans())
def test_prefix_stable(
    base: list[dict[str, Any]], more: list[dict[str, Any]], level: str, warm: bool
) -> None:
    policy = Policy(level=level)  # type: ignore[arg-type]
    a = _last(base, "assistant")
    if a < 0:
        base = [*base, {"role": "assistant", "content": "ok"}]
        a = len(base) - 1
    cont = more[1:]  # drop the generated system message
    stable = a
    if not warm:
        pl.clear_caches()
    short = compress(base, policy=policy)
    if not warm:
        pl.clear_caches()
    long = compress(base + cont, policy=policy)
    assert json.dumps(short.messages[:stable]) == json.dumps(long.messages[:stable])
    used = {code for code in short.aliases if any(code in json.dumps(m) for m in short.messages[:stable])}
    assert all(long.aliases.get(code) == short.aliases[code] for code in used)


def _text_len(m: dict[str, Any]) -> int:
    c = m.get("content")
    return len(c) if isinstance(c, str) else 0


@settings(max_examples=80, deadline=None)
@given(conversations(), LEVELS)
def test_never_larger_and_never_touches_tool_calls(msgs: list[dict[str, Any]], level: str) -> None:
    out = compress(msgs, policy=Policy(level=level)).messages  # type: ignore[arg-type]
    assert len(out) == len(msgs)
    for before, after in zip(msgs, out, strict=True):
        assert _text_len(after) <= _text_len(before)
        assert after.get("tool_calls") == before.get("tool_calls")
        assert after.get("role") == before.get("role")


def _pairs(text: str) -> Any:
    return json.loads(text, object_pairs_hook=lambda kv: ("obj", kv))


@settings(max_examples=80, deadline=None)
@given(conversations())
def test_lossless_json_stays_equal_json(msgs: list[dict[str, Any]]) -> None:
    out = compress(msgs, policy=Policy(level="lossless")).messages
    for i, (before, after) in enumerate(zip(msgs, out, strict=True)):
        text = before.get("content")
        if not isinstance(text, str) or not is_json_document(text):
            continue
        folded = [whole_marker(f"the earlier result of tool call {m.get('tool_call_id')}") for m in msgs[:i]]
        if after["content"] in folded:
            continue
        assert _pairs(after["content"]) == _pairs(text)
