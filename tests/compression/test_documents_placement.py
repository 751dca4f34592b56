"""Where RAG prompts put their documents, and the question-aware selection finding them there.

The evaluation data keeps documents in the system message and the question alone in the last user
message; clients in the wild also send one user message holding instruction, documents and
question (in either order), XML-tagged documents, markdown sections, bare "Context:" paragraphs,
and retrieval results as a tool message. Each shape must shrink with the answer kept and the
question byte for byte, and a task about the whole context must leave the documents whole."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencompress.compression import Policy, compress
from support.rag_docs import DISTRACTORS, GOLD

QUESTION = "when was the lighthouse of alexandria constructed"
ANSWER = "around 280 BC"
DOCS = [
    (t, f"{b} Historians have written about {t} in many languages, and visitors still ask about {t} today.")
    for t, b in [*DISTRACTORS[:6], GOLD, *DISTRACTORS[6:]]
]


def _numbered() -> str:
    return "\n\n".join(f"Document [{i + 1}](Title: {t}) {b}" for i, (t, b) in enumerate(DOCS))


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


SEARCH_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "search", "arguments": '{"q":"lighthouse"}'},
        }
    ],
}

SHAPES = {
    "instruction, documents, question in one message": _user(
        f"Answer using only the provided search results.\n\n{_numbered()}\n\nQuestion: {QUESTION}\nAnswer:"
    ),
    "question first, then sources": _user(
        f"Question: {QUESTION}?\n\nUse these sources:\n\n"
        + "\n\n".join(f"[{i + 1}] {t}\n{b}" for i, (t, b) in enumerate(DOCS))
    ),
    "xml-tagged documents": _user(
        "<documents>\n"
        + "\n".join(
            f'<document index="{i}">\n<source>{t}</source>\n{b}\n</document>' for i, (t, b) in enumerate(DOCS)
        )
        + f"\n</documents>\n\n{QUESTION}?"
    ),
    "markdown sections under a context heading": [
        {
            "role": "system",
            "content": "Answer from the sources.\n\n# Context\n\n"
            + "\n\n".join(f"## {t}\n\n{b}" for t, b in DOCS),
        },
        {"role": "user", "content": QUESTION},
    ],
    "bare paragraphs after 'Context:'": _user(
        "Context:\n" + "\n\n".join(f"{t}\n{b}" for t, b in DOCS) + f"\n\nAnswer the question: {QUESTION}"
    ),
    "retrieval results as a tool message": [
        {"role": "system", "content": "You answer questions with the search tool."},
        {"role": "user", "content": QUESTION + "?"},
        SEARCH_CALL,
        {"role": "tool", "tool_call_id": "call_1", "content": _numbered()},
    ],
    "retrieval results as JSON records in a tool message": [
        {"role": "user", "content": QUESTION + "?"},
        SEARCH_CALL,
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps(
                {
                    "results": [
                        {"title": t, "url": f"https://example.org/{i}", "content": b}
                        for i, (t, b) in enumerate(DOCS)
                    ]
                },
                indent=2,
            ),
        },
    ],
}


def _texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["content"] for m in messages if isinstance(m.get("content"), str))


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_shrinks_keeps_the_answer_and_the_question(shape: str) -> None:
    messages = SHAPES[shape]
    snapshot = copy.deepcopy(messages)
    result = compress(messages, policy=Policy(level="balanced", rate=0.3))
    assert messages == snapshot
    before, after = _texts(messages), _texts(result.messages)
    assert len(after) < 0.7 * len(before), shape
    assert ANSWER in after
    assert QUESTION in after
    assert "documents" in result.stages_applied
    assert [m.get("tool_calls") for m in result.messages] == [m.get("tool_calls") for m in messages]
    assert "documents" not in compress(messages, policy=Policy(level="lossless")).stages_applied


@pytest.mark.parametrize(
    "task",
    [
        "Summarize the documents above in two sentences.",
        "Translate every passage into French.",
        "What do all of the search results say about lighthouses?",
    ],
)
def test_a_task_about_the_whole_context_keeps_every_document(task: str) -> None:
    inline = _user(f"Use the following documents.\n\n{_numbered()}\n\n{task}")
    separate = [{"role": "system", "content": f"Use the following documents.\n\n{_numbered()}"}, *_user(task)]
    for messages in (inline, separate):
        result = compress(messages, policy=Policy(level="balanced", rate=0.3))
        assert "documents" not in result.stages_applied
        assert all(b in _texts(result.messages) for _, b in DOCS)


def test_a_documents_question_from_an_earlier_turn_is_not_selected_again() -> None:
    """Prefix stability: once answered, the message is history and keeps its documents."""
    first = SHAPES["instruction, documents, question in one message"]
    later = [*first, {"role": "assistant", "content": "Around 280 BC."}, *_user("And how tall was it?")]
    out = compress(later, policy=Policy(level="balanced", rate=0.3)).messages
    assert all(b in out[0]["content"] for _, b in DOCS)


def test_a_question_after_a_short_last_document_is_never_cut() -> None:
    """Found on the layouts bench: a last document shorter than the question after it took the
    question into its body, and aggressive selection dropped it as a sentence."""
    docs = [*DOCS, ("Note", "Dates vary.")]
    text = "Answer about the lighthouse of Alexandria from the following search results.\n\n" + "\n".join(
        f"Document [{i + 1}](Title: {t}) {b}" for i, (t, b) in enumerate(docs)
    )
    long_question = (
        f"Question: {QUESTION}, and by whom, for which harbour and for what ships exactly\nAnswer:"
    )
    for level in ("balanced", "aggressive"):
        out = compress(_user(f"{text}\n\n{long_question}"), policy=Policy(level=level, rate=0.2)).messages
        assert out[0]["content"].endswith("\n" + long_question)


@pytest.mark.parametrize("label", ["Answer the question: ", "My query: "])
def test_a_labelled_question_counts_whatever_its_wording(label: str) -> None:
    """A search-style question ("… date") does not read as one by its words, but the label says it is."""
    asked = f"{label}the lighthouse of alexandria date of construction"
    messages = _user("Context:\n" + "\n\n".join(f"{t}\n{b}" for t, b in DOCS) + f"\n\n{asked}")
    result = compress(messages, policy=Policy(level="balanced", rate=0.3))
    assert "documents" in result.stages_applied
    after = _texts(result.messages)
    assert ANSWER in after and after.endswith(asked)
    assert len(after) < 0.7 * len(_texts(messages))


def test_without_a_recognisable_question_the_documents_message_stays_whole() -> None:
    messages = _user(
        f"Use the following search results.\n\n{_numbered()}\n\nthe lighthouse of alexandria date"
    )
    assert compress(messages, policy=Policy(level="balanced", rate=0.3)).messages == messages


_PIECES = st.sampled_from(
    [
        "Document [1](Title: Lighthouse) ",
        "Document [2] ",
        "[3] ",
        "<document>The lighthouse stood on Pharos.</document>\n",
        "\n\n",
        "\n",
        "Use the following passages.\n",
        "The lighthouse was built in 280 BC. ",
        "Alexandria is a city. ",
        "Question: when? ",
        "lighthouse alexandria ",
        *(f"Document [{i + 1}](Title: {t}) {b}\n" for i, (t, b) in enumerate(DOCS)),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(_PIECES, max_size=120),
    rate=st.floats(0.05, 0.95),
    level=st.sampled_from(["balanced", "aggressive"]),
)
def test_the_question_line_always_survives(pieces: list[str], rate: float, level: str) -> None:
    question = f"Question: {QUESTION}?"
    text = "".join(pieces) + "\n\n" + question
    out = compress(_user(text), policy=Policy(level=level, rate=rate)).messages[0]["content"]  # type: ignore[arg-type]
    assert out.endswith(question) and len(out) <= len(text)
