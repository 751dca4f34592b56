"""FewShotBudget: whole demonstrations, most relevant first, original order, question untouched."""

from __future__ import annotations

from typing import Any

from opencompress.compression import compress
from opencompress.compression.base import Policy, StageContext
from opencompress.compression.stages.fewshot import FewShotBudget
from opencompress.compression.text.demos import find_demonstrations

INSTRUCTION = "Please reference the following examples to answer the math question,\n"
TOPICS = [
    ("Sara bakes {a} cookies and eats {b} of them. How many cookies are left?", "{a} - {b} = {c}", "sub"),
    (
        "A train travels {a} miles per hour for {b} hours. How many miles does the train travel?",
        "{a} x {b} = {c}",
        "mul",
    ),
    (
        "Tom has {a} marbles and finds {b} more marbles. How many marbles does he have?",
        "{a} + {b} = {c}",
        "add",
    ),
    (
        "A farmer plants {a} rows of corn with {b} plants each. How many corn plants are there?",
        "{a} x {b} = {c}",
        "mul",
    ),
    (
        "Lisa reads {a} pages on Monday and {b} pages on Tuesday. How many pages did she read?",
        "{a} + {b} = {c}",
        "add",
    ),
    ("A shop sells {a} shirts and returns {b} shirts. How many shirts were kept?", "{a} - {b} = {c}", "sub"),
    ("Ducks lay {a} eggs per day for {b} days. How many eggs are laid in total?", "{a} x {b} = {c}", "mul"),
    (
        "A bus carries {a} people and {b} people get off. How many people remain on the bus?",
        "{a} - {b} = {c}",
        "sub",
    ),
]


def _value(op: str, a: int, b: int) -> int:
    return {"add": a + b, "sub": a - b, "mul": a * b}[op]


def _demos() -> str:
    out = []
    for i, (q, work, op) in enumerate(TOPICS):
        a, b = 20 + i, 3 + i
        c = _value(op, a, b)
        out.append(
            "Question: " + q.format(a=a, b=b) + "\nLet's think step by step\n"
            "We need to combine the numbers given in the problem statement carefully.\n"
            + work.format(a=a, b=b, c=c)
            + f".\nThe answer is {c}\n\n"
        )
    return INSTRUCTION + "".join(out)


QUESTION = (
    "Question: A train moves 60 miles per hour for 3 hours. How many miles does the train travel?\n"
    "Let's think step by step"
)


def _ctx(messages: list[dict[str, Any]], policy: Policy | None = None) -> StageContext:
    return StageContext(policy=policy or Policy(), query=messages[-1]["content"], frozen_until=-1)


def _run(messages: list[dict[str, Any]], stage: FewShotBudget | None = None, policy: Policy | None = None):
    stage = stage or FewShotBudget(min_tokens=100)
    return stage.apply(messages, _ctx(messages, policy))


def test_keeps_relevant_demonstrations_whole_in_order_within_budget() -> None:
    system = _demos()
    messages = [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]
    out = _run(messages)
    text = out[0]["content"]
    assert text.startswith(INSTRUCTION)
    assert out[1] == messages[1]
    original = find_demonstrations(system)
    kept = [d for d in original if system[d.start : d.end] in text]
    assert 1 <= len(kept) < len(original)
    # Whole demonstrations only: the output is the instruction plus kept demonstrations, in order.
    assert text == INSTRUCTION + "".join(system[d.start : d.end] for d in kept)
    assert (
        sum(d.end - d.start for d in kept) <= 0.45 * sum(d.end - d.start for d in original) or len(kept) == 1
    )
    assert "A train travels" in text  # the most similar demonstration survives


def test_rate_and_min_keep() -> None:
    messages = [{"role": "system", "content": _demos()}, {"role": "user", "content": QUESTION}]
    tiny = _run(messages, policy=Policy(rate=0.01))[0]["content"]
    assert tiny.count("Question:") == 1 and "The answer is" in tiny
    two = _run(messages, FewShotBudget(min_tokens=100, keep_ratio=0.01, min_keep=2))[0]["content"]
    assert two.count("Question:") == 2
    assert _run(messages, policy=Policy(rate=1.0)) is messages


def test_real_question_inside_the_same_message_is_kept() -> None:
    system = _demos() + "Question: How many legs do 4 spiders have?\nAnswer:"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "Go on."}]
    out = _run(messages)[0]["content"]
    assert out.endswith("Question: How many legs do 4 spiders have?\nAnswer:")
    assert len(out) < len(system)


def test_demonstrations_in_the_question_message_are_budgeted_around_the_question() -> None:
    text = _demos() + QUESTION
    out = _run([{"role": "user", "content": text}])[0]["content"]
    assert out.startswith(INSTRUCTION) and out.endswith(QUESTION) and len(out) < len(text)
    kept = find_demonstrations(out)
    assert kept and all(out[d.start : d.end] in text for d in kept)
    result = compress([{"role": "user", "content": text}], policy=Policy(level="balanced"))
    assert "fewshot" in result.stages_applied and result.messages[0]["content"].endswith(QUESTION)


def test_not_a_few_shot_prompt_or_frozen_is_untouched() -> None:
    plain = [{"role": "system", "content": "You are helpful. " * 300}, {"role": "user", "content": QUESTION}]
    assert _run(plain) is plain
    frozen = [
        {"role": "system", "content": _demos()},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": QUESTION},
    ]
    ctx = StageContext(policy=Policy(), query=QUESTION, frozen_until=2)
    assert FewShotBudget(min_tokens=100).apply(frozen, ctx) is frozen


def test_deterministic() -> None:
    messages = [{"role": "system", "content": _demos()}, {"role": "user", "content": QUESTION}]
    assert _run(messages) == _run([dict(m) for m in messages])


def test_demonstrations_elsewhere_need_a_question_of_their_shape() -> None:
    """Blocks in the system message are only budgeted when the question carries their label (or
    they end with an unanswered one); a bare question may be about them, so they all stay."""
    system = _demos()
    bare = [
        {"role": "system", "content": system},
        {"role": "user", "content": "Which of these uses subtraction?"},
    ]
    assert _run(bare) is bare
    labelled = [{"role": "system", "content": system}, {"role": "user", "content": QUESTION}]
    assert len(_run(labelled)[0]["content"]) < len(system)


def test_an_instruction_asking_about_every_block_keeps_them() -> None:
    text = _demos().replace(INSTRUCTION, "Count how many of the problems below use multiplication.\n")
    messages = [{"role": "system", "content": text}, {"role": "user", "content": QUESTION}]
    assert _run(messages) is messages
