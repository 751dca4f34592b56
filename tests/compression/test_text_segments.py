"""Document segmentation: what counts as a document collection, and what must not."""

from __future__ import annotations

from opencompress.compression.text.segments import announces_context, split_documents

PARA = (
    "{name} is a subject with a long and well documented history that spans many centuries of records, "
    "and scholars have written a great deal about {name} in many different languages."
)


def _numbered(n: int) -> str:
    docs = "\n".join(
        f"Document [{i + 1}](Title: Topic {i}) " + PARA.format(name=f"Topic {i}") for i in range(n)
    )
    return "Write an answer using only the provided search results.\n\n" + docs


def test_numbered_documents_cover_everything_after_the_instruction() -> None:
    text = _numbered(5)
    segs = split_documents(text)
    assert len(segs) == 5
    assert text[: segs[0].start] == "Write an answer using only the provided search results.\n\n"
    assert text[segs[0].start : segs[0].body_start] == "Document [1](Title: Topic 0) "
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end == b.start
    assert segs[-1].end == len(text)


def test_trailing_question_after_last_document_is_instruction() -> None:
    text = _numbered(4) + "\n\nQuestion: what is topic 3?"
    segs = split_documents(text)
    assert "Question:" not in text[segs[-1].start : segs[-1].end]
    assert text[segs[-1].end :] == "Question: what is topic 3?"


def test_tagged_documents() -> None:
    body = "".join(f'<document index="{i}">\n{PARA.format(name=i)}\n</document>\n' for i in range(3))
    text = "Use these documents.\n" + body + "Question?"
    segs = split_documents(text)
    assert len(segs) == 3
    assert text[segs[0].start : segs[0].body_start] == '<document index="0">'
    assert text[segs[0].body_end : segs[0].end] == "</document>\n"


def test_markdown_sections_need_an_announcement() -> None:
    sections = "".join(f"## Section {i}\n{PARA.format(name=i)}\n\n" for i in range(4))
    assert len(split_documents("Answer from the following articles.\n\n" + sections)) == 4
    assert split_documents("Some notes.\n\n" + sections) == []


def test_announced_paragraphs_with_title_headers() -> None:
    paras = "\n\n".join(f"Title: T{i}\n" + PARA.format(name=i) for i in range(4))
    text = "Answer using the following passages.\n\n" + paras + "\n\nQuestion: ?"
    segs = split_documents(text)
    assert len(segs) == 4
    assert text[segs[0].start : segs[0].body_start] == "Title: T0\n"


def test_instruction_paragraphs_are_not_documents() -> None:
    # A system prompt made of paragraphs that talk to the reader must never be "selected".
    rules = "\n\n".join(
        f"You must always follow rule {i}: when you edit a file, you check the indentation and you "
        "re-read the result before you continue with the next step of the task."
        for i in range(6)
    )
    assert split_documents("Read the following documents carefully.\n\n" + rules) == []
    # Unannounced prose paragraphs are left alone, and so is code.
    assert split_documents("\n\n".join(PARA.format(name=i) for i in range(6))) == []
    code = "Here is the following context:\n\n" + "\n\n".join("def f():\n    return 1" for _ in range(5))
    assert split_documents(code) == []


def test_too_few_documents() -> None:
    assert split_documents(_numbered(2)) == []
    assert split_documents("") == []


def test_announces_context() -> None:
    assert announces_context("Answer using only the following context.")
    assert announces_context("Context:\nblah")
    assert not announces_context("open /Users/x/Documents/file.py")


def test_titles_with_parentheses_stay_in_the_header() -> None:
    docs = "\n".join(f"Document [{i}](Title: Waters (name {i})) " + PARA.format(name=i) for i in range(1, 4))
    text = "Use the provided search results.\n\n" + docs
    segs = split_documents(text)
    assert [text[s.start : s.body_start] for s in segs] == [
        f"Document [{i}](Title: Waters (name {i})) " for i in range(1, 4)
    ]


def test_a_heading_that_titles_the_collection_is_instruction() -> None:
    sections = "".join(f"## Section {i}\n{PARA.format(name=i)}\n\n" for i in range(4))
    text = "Answer from the sources.\n\n# Context\n\n" + sections
    segs = split_documents(text)
    assert len(segs) == 4
    assert text[: segs[0].start] == "Answer from the sources.\n\n# Context\n\n"


def test_a_passage_glued_below_context_colon_is_a_document() -> None:
    paras = "\n\n".join(PARA.format(name=i) for i in range(4))
    text = "Context:\n" + paras + "\n\nAnswer the question: what is 2?"
    segs = split_documents(text)
    assert len(segs) == 4
    assert text[: segs[0].start] == "Context:\n"


def test_prose_that_mentions_a_class_or_ends_a_line_with_a_semicolon_is_prose() -> None:
    ideology = "A political ideology explains how a class, or large group (a movement) should work. "
    truncated = " The song was recorded in 1962 and released later that year as a single on a small label;"
    you = "You've Got a Friend in Me is a song that you may know: it was written by Randy Newman for a film. "
    paras = [PARA.format(name=i) for i in range(4)]
    paras += [ideology + PARA.format(name="x"), PARA.format(name="z") + truncated]
    assert len(split_documents("Use the following passages.\n\n" + "\n\n".join(paras))) == 6
    with_you = [PARA.format(name=i) for i in range(4)] + [you + PARA.format(name="y")]
    assert len(split_documents("Use the following passages.\n\n" + "\n\n".join(with_you))) == 5


def test_marked_only_wants_passages_not_report_lines() -> None:
    report = "\n".join(f"Result {i}: test_case_{i} passed in 0.{i}s" for i in range(20))
    assert split_documents(report) != []  # the generic finder sees numbered blocks
    assert split_documents(report, marked_only=True) == []
    assert len(split_documents(_numbered(5), marked_only=True)) == 5
    assert (
        split_documents("Use the following passages.\n\n" + "\n\n".join([PARA] * 5), marked_only=True) == []
    )
