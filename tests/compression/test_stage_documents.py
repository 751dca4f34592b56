"""DocumentSelection: question-aware, position-independent, prefix-stable, verbatim."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression.base import Policy, StageContext
from opencompress.compression.stages.documents import DocumentSelection
from support.rag_docs import DISTRACTORS, GOLD

INSTRUCTION = (
    "Write a high-quality answer for the given question using only the provided search results "
    "(some of which might be irrelevant).\n\n"
)
QUESTION = "Question: when was the lighthouse of alexandria constructed\nAnswer:"


def _system(gold_at: int) -> str:
    docs = list(DISTRACTORS)
    docs.insert(gold_at, GOLD)
    return INSTRUCTION + "\n".join(f"Document [{i + 1}](Title: {t}) {b}" for i, (t, b) in enumerate(docs))


def _ctx(messages: list[dict[str, Any]], policy: Policy | None = None) -> StageContext:
    last_user = [m for m in messages if m["role"] == "user"][-1]["content"]
    frozen = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    return StageContext(policy=policy or Policy(), query=last_user, frozen_until=frozen)


def _run(
    messages: list[dict[str, Any]], stage: DocumentSelection | None = None, policy: Policy | None = None
):
    stage = stage or DocumentSelection(min_tokens=100)
    return stage.apply(messages, _ctx(messages, policy))


@pytest.mark.parametrize("gold_at", [0, 5, 11])
def test_keeps_the_answer_wherever_it_is_and_shrinks(gold_at: int) -> None:
    system = _system(gold_at)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]
    out = _run(messages)
    text = out[0]["content"]
    assert "around 280 BC" in text
    assert len(text) <= 0.6 * len(system)
    assert text.startswith(INSTRUCTION)  # instruction verbatim
    assert out[1] == messages[1]  # the question untouched
    assert messages[0]["content"] == system  # input not mutated


@pytest.mark.parametrize(
    "question", [QUESTION, "Question: which of the seven wonders was the first lighthouse\nAnswer:"]
)
def test_what_is_kept_does_not_depend_on_where_documents_sit(question: str) -> None:
    """The same documents in every order keep the same sentences. The markers "Document [k]" say
    where a document sits, so they must not match a question's "first" (1) or "seven" (7)."""

    def kept(gold_at: int) -> set[str]:
        messages = [{"role": "system", "content": _system(gold_at)}, {"role": "user", "content": question}]
        text = _run(messages, stage=DocumentSelection(min_tokens=100, keep_ratio=0.2))[0]["content"]
        return {re.sub(r"^Document \[\d+\]", "", line) for line in text.splitlines()[2:]}

    outcomes = [kept(gold_at) for gold_at in range(len(DISTRACTORS) + 1)]
    assert all(o == outcomes[0] for o in outcomes)


def test_kept_text_is_verbatim_and_in_original_order() -> None:
    system = _system(5)
    out = _run([{"role": "system", "content": system}, {"role": "user", "content": QUESTION}])[0]["content"]
    kept_docs = [line for line in out[len(INSTRUCTION) :].split("\n") if line]
    positions = []
    for line in kept_docs:
        header, _, body = line.partition(") ")
        assert header + ") " in system
        positions.append(system.index(header + ") "))
        for sentence in body.split(". "):
            assert sentence.rstrip(".") in system
    assert positions == sorted(positions)


def test_rate_overrides_keep_ratio() -> None:
    messages = [{"role": "system", "content": _system(3)}, {"role": "user", "content": QUESTION}]
    small = _run(messages, policy=Policy(rate=0.15))[0]["content"]
    large = _run(messages, policy=Policy(rate=0.7))[0]["content"]
    assert len(small) < len(large) < len(messages[0]["content"])
    assert "280 BC" in small
    assert _run(messages, policy=Policy(rate=1.0)) is messages


def test_small_content_unmatched_question_and_no_question_are_left_alone() -> None:
    messages = [{"role": "system", "content": _system(0)}, {"role": "user", "content": QUESTION}]
    assert DocumentSelection(min_tokens=5000).apply(messages, _ctx(messages)) is messages
    unmatched = [messages[0], {"role": "user", "content": "zzzz qqqq?"}]
    assert _run(unmatched) is unmatched
    ctx = StageContext(policy=Policy(), query="", frozen_until=-1)
    assert DocumentSelection(min_tokens=100).apply(messages, ctx) is messages


def test_prefix_stability_only_current_turn_is_touched() -> None:
    docs = {"role": "user", "content": _system(4)}
    earlier = [{"role": "system", "content": "Be brief."}, docs, {"role": "assistant", "content": "OK."}]
    messages = earlier + [{"role": "user", "content": QUESTION}]
    out = _run(messages)
    assert out[: len(earlier)] == earlier  # docs before the last assistant message: frozen
    current = [{"role": "system", "content": "Be brief."}, docs, {"role": "user", "content": QUESTION}]
    assert len(_run(current)[1]["content"]) < len(docs["content"])


def test_the_question_is_never_touched_even_in_the_documents_message() -> None:
    question_only = [{"role": "system", "content": _system(2)}, {"role": "user", "content": QUESTION}]
    assert _run(question_only)[1] is question_only[1]
    text = _system(2) + "\n\n" + QUESTION
    out = _run([{"role": "user", "content": text}])[0]["content"]
    assert out.startswith(INSTRUCTION) and out.endswith("\n" + QUESTION)
    assert "around 280 BC" in out and len(out) < 0.6 * len(text)


def test_tool_results_only_when_they_are_a_marked_collection_of_prose() -> None:
    messages = [
        {"role": "user", "content": QUESTION},
        {"role": "tool", "tool_call_id": "c1", "content": _system(1)},
    ]
    out = _run(messages)
    assert "around 280 BC" in out[1]["content"] and len(out[1]["content"]) < len(messages[1]["content"])
    report = "\n".join(f"Result {i}: test_lighthouse_{i} passed in 0.{i}s (alexandria)" for i in range(40))
    not_documents = [messages[0], {"role": "tool", "tool_call_id": "c1", "content": report}]
    assert _run(not_documents) is not_documents


def test_text_parts_are_handled() -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": _system(7)}]},
        {"role": "user", "content": QUESTION},
    ]
    out = _run(messages)
    part = out[0]["content"][0]
    assert part["type"] == "text" and "280 BC" in part["text"]
    assert len(part["text"]) < len(messages[0]["content"][0]["text"])


def test_key_value_json_keeps_the_named_pair_only() -> None:
    data = {str(uuid.UUID(int=i)): str(uuid.UUID(int=10_000 + i)) for i in range(75)}
    key = list(data)[40]
    system = "Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:\n"
    messages = [
        {"role": "system", "content": system + json.dumps(data, indent=1)},
        {"role": "user", "content": f'Key: "{key}"\nCorresponding value:'},
    ]
    out = _run(messages, DocumentSelection())
    text = out[0]["content"]
    assert text.startswith(system)
    assert json.loads(text[len(system) :]) == {key: data[key]}
    missing = [messages[0], {"role": "user", "content": 'Key: "not-a-key-0000"'}]
    assert _run(missing, DocumentSelection()) is missing


def test_deterministic() -> None:
    messages = [{"role": "system", "content": _system(6)}, {"role": "user", "content": QUESTION}]
    assert _run(messages) == _run(json.loads(json.dumps(messages)))


_PIECES = st.sampled_from(
    [
        "Document [1](Title: A) ",
        "Document [2] ",
        "[3] ",
        "## Heading\n",
        "\n\n",
        "\n",
        "Use the following passages.\n",
        "The lighthouse was built in 280 BC. ",
        "Alexandria is a city. ",
        '{"k1-0000": "v", "k2-0000": "w"}',
        "Mr. Smith arrived. ",
        "<document>x</document>\n",
        "lighthouse alexandria ",
    ]
)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(_PIECES, min_size=0, max_size=80), rate=st.floats(0.05, 0.95))
def test_never_raises_never_grows_and_keeps_text_verbatim(pieces: list[str], rate: float) -> None:
    system = "".join(pieces)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]
    out = DocumentSelection(min_tokens=10).apply(messages, _ctx(messages, Policy(rate=rate)))
    assert out[1] is messages[1]
    new = out[0]["content"]
    assert len(new) <= len(system)
    # Selection only removes: no character appears more often than in the input.
    assert not Counter(new.replace(" ", "")) - Counter(system.replace(" ", ""))
