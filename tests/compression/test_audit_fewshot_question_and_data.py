"""Audit findings #2 and #3 for the few-shot stage.

#2: the real question of a one-message few-shot prompt, pre-filled with "A: Let's think step by
step.", looked like one more demonstration and could be dropped.
#3: rows of labelled data ("Review: …" / "Sentiment: …") and pasted "User:"/"Assistant:"
transcripts have the demonstration shape, but a question about them ("How many reviews are
positive?") needs every row; the stage dropped most of them."""

from __future__ import annotations

from typing import Any

from opencompress.compression import Policy, compress
from opencompress.compression.base import StageContext
from opencompress.compression.stages.fewshot import FewShotBudget
from opencompress.compression.text.demos import find_blocks


def _compress(messages: list[dict[str, Any]], level: str = "balanced") -> list[dict[str, Any]]:
    return compress(messages, policy=Policy(level=level)).messages  # type: ignore[arg-type,return-value]


def _stage(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ctx = StageContext(policy=Policy(), query=messages[-1]["content"], frozen_until=-1)
    return FewShotBudget(min_tokens=100).apply(messages, ctx)  # type: ignore[arg-type,return-value]


def _math_demos(n: int = 18) -> str:
    return "\n\n".join(
        f"Q: A shop sells {k} boxes of {k + 3} pens each. How many pens does it sell?\n"
        f"A: It sells {k} * {k + 3} = {k * (k + 3)} pens. The answer is {k * (k + 3)}."
        for k in range(2, 2 + n)
    )


REAL = "Q: A farmer has 17 cows and sells 4. How many cows are left?\nA: Let's think step by step."


def test_prefilled_real_question_is_never_dropped() -> None:
    text = "Solve the problems.\n\n" + _math_demos() + "\n\n" + REAL
    for level in ("balanced", "aggressive"):
        out = _compress([{"role": "user", "content": text}], level)[0]["content"]
        assert out.endswith(REAL), level
        assert out.startswith("Solve the problems.\n\n")
        assert out.count("Q: ") < 19  # it is still a few-shot prompt: demonstrations are budgeted


def test_prefilled_question_with_a_closing_instruction_is_kept() -> None:
    real = "Q: A farmer has 17 cows and sells 4. How many cows are left?\nA:\n\nReply with the number only."
    text = "Solve the problems.\n\n" + _math_demos() + "\n\n" + real
    out = _stage([{"role": "user", "content": text}])[0]["content"]
    assert out.endswith(real) and len(out) < len(text)


def _reviews(n: int = 18) -> str:
    rows = []
    for k in range(n):
        good = k % 3 != 0
        what = (
            "on time and works exactly as described in the listing"
            if good
            else "broken, support never answered"
        )
        label = "positive" if good else "negative"
        rows.append(f"Review: Order {k}: the blender arrived {what}.\nSentiment: {label}\n")
    return "\n".join(rows)


def test_question_about_labelled_rows_keeps_every_row() -> None:
    system = "Here are this week's customer reviews with their labels.\n\n" + _reviews()
    for question in (
        "How many reviews are positive?",
        "Summarize all the reviews",
        "Count the negative ones",
    ):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        out = _compress(messages)[0]["content"]
        assert out.count("Review: Order") == 18, question
        assert out.count("Sentiment: positive") == 12, question


def test_a_new_instance_of_the_rows_is_still_few_shot() -> None:
    system = "Label the sentiment of the review like the examples.\n\n" + _reviews()
    question = "Review: Order 99: the blender arrived on time and works well.\nSentiment:"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    out = _compress(messages)
    assert out[0]["content"].count("Review: Order") < 18
    assert out[1] == messages[1]


def _transcript(n: int = 14) -> str:
    lines = []
    for k in range(n):
        order = 1000 + k * 37
        lines.append(
            f"User: Hi, I'd like to check on my order number {order}, it has not arrived yet and I paid"
            " for express shipping."
        )
        lines.append(
            f"Assistant: I'm sorry about that. Order {order} shipped on March {k + 1}. Anything else?"
        )
    return "\n".join(lines)


def test_pasted_transcript_keeps_every_exchange() -> None:
    system = "You analyse support transcripts. Here is today's transcript:\n\n" + _transcript()
    question = "How many distinct customers mentioned express shipping?"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    assert _compress(messages)[0]["content"].count("User: Hi") == 14


def test_transcript_or_rows_in_the_question_message_keep_every_block() -> None:
    after = (
        "Here is today's transcript:\n\n"
        + _transcript()
        + "\n\nHow many customers paid for express shipping?"
    )
    before = "Count the negative reviews below.\n\n" + _reviews()
    for text in (after, before):
        messages = [{"role": "user", "content": text}]
        assert _compress(messages)[0]["content"] == text


def test_blocks_report_the_pending_last_block() -> None:
    text = "Solve.\n\n" + _math_demos(4) + "\n\n" + REAL
    blocks = find_blocks(text)
    assert blocks is not None and blocks.label == "q"
    assert blocks.last_answered and text[blocks.last.start : blocks.last.end] == REAL
    unanswered = find_blocks(_math_demos(4) + "\n\nQ: What is 2 + 2?\nA:\n\nBe brief.")
    assert unanswered is not None and not unanswered.last_answered and len(unanswered.demos) == 4


def test_a_question_word_around_blocks_in_the_question_message_keeps_them() -> None:
    text = "Tell me which customer was the angriest in this chat:\n\n" + _transcript()
    messages = [{"role": "user", "content": text}]
    assert _stage(messages) is messages


def _chat_examples(n: int = 12) -> str:
    """Few-shot chat examples: User/Assistant pairs, a blank line between examples."""
    return "\n\n".join(
        f"User: Translate the word number {k} of the list, 'cat {k}', into French.\n"
        f"Assistant: Le mot numéro {k} est 'chat {k}', a short and common word."
        for k in range(n)
    )


def test_pasted_conversation_ending_on_the_user_keeps_every_turn() -> None:
    """A pasted conversation (turns on consecutive lines) whose last "User:" line is the pending
    question is one conversation, not examples: its earlier turns are what the question is about."""
    for question in (
        "How many orders have I asked about?",
        "Summarize our conversation so far.",
        "Did I thank you earlier?",
    ):
        text = "Here is our chat so far.\n\n" + _transcript() + f"\nUser: {question}\nAssistant:"
        for level in ("balanced", "aggressive"):
            out = _compress([{"role": "user", "content": text}], level)[0]["content"]
            assert out.count("User: Hi") == 14, (question, level)


def test_chat_examples_separated_by_blank_lines_are_still_few_shot() -> None:
    real = "User: Translate the word number 99 of the list, 'cat 99', into French.\nAssistant:"
    text = "Answer like the examples.\n\n" + _chat_examples() + "\n\n" + real
    out = _compress([{"role": "user", "content": text}])[0]["content"]
    assert out.endswith(real)
    assert out.count("User: Translate") < 13


def test_words_about_using_the_examples_do_not_keep_them_all() -> None:
    """A new instance of the task under its examples is few-shot whatever the instruction says
    about them; only a task over the examples themselves keeps them all."""
    question = "Q: A farmer has 17 cows and sells 4. How many cows are left?"
    for instruction, budgeted in (
        ("For each question below, reason step by step; the final line of each gives the answer.", True),
        ("All of the following examples are solved. Which method fits best?", True),
        ("Count how many of the problems below use multiplication.", False),
        ("Summarize the problems below.", False),
    ):
        system = instruction + "\n\n" + _math_demos()
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        out = _compress(messages)
        assert (out[0]["content"].count("Q: ") < 18) is budgeted, instruction
        assert out[1] == messages[1]
