"""Few-shot demonstration detection: explicit question/answer shapes only."""

from __future__ import annotations

from opencompress.compression.text.demos import carries_label, find_blocks, find_demonstrations


def _gsm(n: int) -> str:
    demos = "".join(
        f"Question: Tom has {i} apples and buys {i + 2} more. How many apples now?\n"
        f"Let's think step by step\nTom has {i} + {i + 2} = {2 * i + 2} apples.\n"
        f"The answer is {2 * i + 2}\n\n"
        for i in range(n)
    )
    return "Please reference the following examples to answer the math question,\n" + demos


def test_gsm_style_demonstrations_are_found_whole() -> None:
    text = _gsm(5)
    demos = find_demonstrations(text)
    assert len(demos) == 5
    assert text[: demos[0].start] == "Please reference the following examples to answer the math question,\n"
    assert text[demos[0].start : demos[0].end].endswith("The answer is 2\n\n")
    assert demos[-1].end == len(text)


def test_q_a_labels_and_trailing_real_question() -> None:
    body = "".join(f"Q: What is the capital of country {i}?\nA: City {i}.\n\n" for i in range(4))
    text = "Answer like the examples.\n\n" + body + "Q: What is the capital of France?\nA:"
    demos = find_demonstrations(text)
    # The final block has an "A:" marker but no answer: it is the real question, not an example.
    assert len(demos) == 4
    assert all(text[d.start : d.end].startswith("Q: What is the capital of country") for d in demos)
    assert "France" not in text[demos[0].start : demos[-1].end]


def test_closing_instruction_after_last_demo_is_not_part_of_it() -> None:
    text = _gsm(3).rstrip("\n") + "\n\nNow solve the next problem carefully."
    demos = find_demonstrations(text)
    assert len(demos) == 3
    assert "Now solve" not in text[demos[-1].start : demos[-1].end]


def test_tool_manuals_and_logs_are_not_demonstrations() -> None:
    manual = "".join(
        f"cmd{i}:\n  docstring: does thing {i}\n  signature: cmd{i} <arg>\n  arguments:\n    - arg\n"
        for i in range(6)
    )
    assert find_demonstrations("COMMANDS:\n" + manual) == []
    log = "".join(f"Error: failed step {i}\nResult: retry\n" for i in range(6))
    assert find_demonstrations(log) == []


def test_needs_minimum_number_of_demos() -> None:
    assert find_demonstrations(_gsm(2)) == []
    assert len(find_demonstrations(_gsm(2), min_demos=1)) == 2
    assert find_demonstrations("") == []


def test_an_answer_marker_followed_by_a_blank_line_is_not_an_answer() -> None:
    body = "".join(f"Q: What is the capital of country {i}?\nA: City {i}.\n\n" for i in range(4))
    text = body + "Q: What is the capital of France?\nA:\n\nAnswer in one word."
    blocks = find_blocks(text)
    assert blocks is not None and len(blocks.demos) == 4 and not blocks.last_answered
    assert text[blocks.last.start :].startswith("Q: What is the capital of France?")
    assert blocks.start == 0 and blocks.end == len(text)


def test_carries_label() -> None:
    assert carries_label("Review: great blender\nSentiment:", "review")
    assert not carries_label("How many reviews are positive?", "review")
    assert not carries_label("Question: how many reviews are positive?", "review")
