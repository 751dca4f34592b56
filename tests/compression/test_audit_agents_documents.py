"""Audit findings on document selection in agent prompts: what a tool returns for a task is the
agent's working data, numbered UI elements and link definitions are not documents, and source
files are never cut into "sentences".

Each case is a hand-written miniature of an input the audit found mishandled: e-mails and chat
messages dropped by BM25 against the task (the ids the next calls need went with them), a WebArena
accessibility tree and markdown reference links cut as numbered documents, and code attached in
``<document>`` tags cut line by line with its ``<source>`` path dropped."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from opencompress.compression import Policy, compress
from opencompress.compression.text.jsonrecords import find_records
from opencompress.compression.text.segments import split_documents
from support.rag_docs import DISTRACTORS, GOLD

LEVELS = ("balanced", "aggressive")

# --- 1. a tool's records in an agent loop ------------------------------------------------------

PEOPLE = ["Priya Raman", "Marcus Lee", "Elena Petrova", "Tom Becker", "Aiko Tanaka", "Omar Haddad"]
SENDERS = [*PEOPLE, "GitHub", "Zoom", "LinkedIn", "Figma"]


def _emails() -> list[dict[str, Any]]:
    out = []
    for i, sender in enumerate(SENDERS):
        asks = i < len(PEOPLE)
        snippet = (
            f"Hi Sam, {sender} here about the quarterly budget review number {i}. Could you confirm by "
            f"Thursday whether the revised figure of {1000 + i * 37} euros works for your team?"
            if asks
            else f"Your automated notification number {i} from {sender}: the weekly digest of account "
            "activity is ready, nothing needs your attention and no reply is expected."
        )
        out.append(
            {
                "id": f"18e4a{i:03d}f0b91d3a",
                "threadId": f"18e4b{i:03d}c2f0b91d",
                "from": f"{sender} <{sender.split()[0].lower()}@example.com>",
                "subject": f"Budget question {i}" if asks else f"Notification {i}",
                "snippet": snippet,
            }
        )
    return out


EMAIL_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search_emails",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "create_draft",
            "parameters": {
                "type": "object",
                "properties": {"thread_id": {"type": "string"}, "body": {"type": "string"}},
            },
        },
    },
]


def _tool_loop(task: str, result: str, tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": '{"q":"x"}'}}
    messages = [
        {"role": "user", "content": task},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]
    return {"messages": messages, "tools": tools or []}


def _tool_output(request: dict[str, Any], level: str) -> str:
    result = compress(request["messages"], tools=request["tools"], policy=Policy(level=level))
    content = result.messages[-1]["content"]
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize("level", LEVELS)
def test_e_mails_a_task_works_through_keep_every_id(level: str) -> None:
    emails = _emails()
    task = (
        "Go through my unread mail from today and draft a short reply to every person who asked me a "
        "question. Skip newsletters and automated notifications."
    )
    request = _tool_loop(task, json.dumps({"messages": emails}, indent=2), EMAIL_TOOLS)
    out = _tool_output(request, level)
    for email in emails:
        assert email["id"] in out and email["threadId"] in out


@pytest.mark.parametrize("level", LEVELS)
def test_chat_messages_keep_every_record(level: str) -> None:
    messages = [
        {
            "type": "message",
            "user": f"U0{i}PERSON",
            "ts": f"171500{i}211.00{i}111",
            "text": f"Update {i} on the payments incident: latency on the checkout service rose to "
            f"{100 + i * 40} ms after the cache refresh, and the rollback of release {i} is under way now.",
            "permalink": f"https://acme.slack.com/archives/C04QX1Z7K/p171500{i}211",
        }
        for i in range(12)
    ]
    task = "Catch me up on the payments incident channel and reply to every open question in it."
    out = _tool_output(_tool_loop(task, json.dumps(messages, indent=2)), level)
    assert all(m["ts"] in out for m in messages)


def _passages() -> list[dict[str, Any]]:
    docs = [*DISTRACTORS[:4], GOLD, *DISTRACTORS[4:]]
    return [
        {"title": t, "url": f"https://en.wikipedia.org/wiki/{i}", "content": b + " " + b}
        for i, (t, b) in enumerate(docs)
    ]


def test_records_without_an_origin_are_working_data_not_passages() -> None:
    """A snippet or a chat text is prose, but a record without a title or url is not a retrieved
    passage: the list is what the agent works through."""
    assert find_records(json.dumps({"messages": _emails()})) is None
    assert find_records(json.dumps(_passages())) is not None
    langchain = [{"page_content": p["content"], "metadata": {"source": p["url"]}} for p in _passages()]
    assert find_records(json.dumps(langchain)) is not None


def test_search_results_for_a_question_are_still_selected() -> None:
    request = _tool_loop("when was the lighthouse of alexandria constructed", json.dumps(_passages()))
    out = _tool_output(request, "balanced")
    assert "around 280 BC" in out and len(out) < 0.7 * len(request["messages"][-1]["content"])


@pytest.mark.parametrize(
    "task",
    [
        "Read all the search results about the lighthouse of alexandria and note where each fact comes from.",
        "Write a short report on the lighthouse of alexandria, with a citation per claim.",
        "Which of these pages mention Alexandria? Give me every url.",
    ],
)
def test_search_results_for_a_task_or_about_every_item_stay_whole(task: str) -> None:
    request = _tool_loop(task, json.dumps(_passages()))
    original = request["messages"][-1]["content"]
    for level in LEVELS:
        out = _tool_output(request, level)
        assert all(p["url"] in out for p in _passages()), (task, level)
        assert len(out) >= 0.95 * len(original) or level == "aggressive"


def test_records_whose_ids_a_tool_takes_stay_whole() -> None:
    pages = [{**p, "page_id": f"pg-{i:04d}"} for i, p in enumerate(_passages())]
    request = _tool_loop("when was the lighthouse of alexandria constructed", json.dumps(pages))
    assert len(_tool_output(request, "balanced")) < len(request["messages"][-1]["content"])
    open_page = {
        "type": "function",
        "function": {"name": "open_page", "parameters": {"properties": {"page_id": {"type": "string"}}}},
    }
    request["tools"] = [open_page]
    out = _tool_output(request, "balanced")
    assert all(p["page_id"] in out for p in pages)


def test_numbered_passages_in_a_tool_result_stay_whole_for_a_task() -> None:
    docs = [*DISTRACTORS[:4], GOLD, *DISTRACTORS[4:]]
    text = "\n\n".join(f"Document [{i + 1}](Title: {t}) {b} {b}" for i, (t, b) in enumerate(docs))
    asked = _tool_output(_tool_loop("when was the lighthouse of alexandria constructed?", text), "balanced")
    assert len(asked) < len(text)
    task = "Save these documents about the lighthouse of alexandria to my notes."
    assert _tool_output(_tool_loop(task, text), "balanced") == text


# --- 2. numbered markers that are not documents ------------------------------------------------

PRODUCTS = [
    ("Sony WH-1000XM4 Wireless Noise Canceling Headphones", "248.00"),
    ("Jabra Elite 4 Active in-Ear Bluetooth Earbuds", "79.99"),
    ("Apple AirPods Pro (2nd Generation) Wireless Ear Buds", "189.99"),
    ("JBL Flip 6 Portable Bluetooth Speaker, Powerful Sound", "99.95"),
    ("Soundcore by Anker Life P2 Mini True Wireless Earbuds", "24.99"),
    ("Bose QuietComfort Earbuds II Wireless Noise Cancelling", "199.00"),
]


def _accessibility_tree() -> str:
    lines = [
        "[1] RootWebArea 'One Stop Market' focused: True",
        "\t[1532] combobox 'Search' autocomplete: both hasPopup: listbox required: False expanded: False",
        "\t[1707] combobox 'Sort By' hasPopup: menu expanded: False",
    ]
    for k, (name, price) in enumerate(PRODUCTS):
        base = 1720 + 10 * k
        lines += [
            f"\t\t[{base}] link 'Image'",
            f"\t\t[{base + 2}] link '{name}'",
            f"\t\t[{base + 3}] StaticText 'Rating: {60 + 5 * k}%'",
            f"\t\t[{base + 5}] StaticText '${price}'",
            f"\t\t[{base + 6}] button 'Add to Cart'",
            f"\t\t[{base + 7}] button 'Add to Wish List'",
        ]
    return "\n".join(lines)


@pytest.mark.parametrize("level", LEVELS)
def test_an_accessibility_tree_is_not_a_document_collection(level: str) -> None:
    tree = _accessibility_tree()
    text = (
        f"OBSERVATION:\n{tree}\nURL: http://shop.example/search?q=wireless+earphones\n"
        "OBJECTIVE: What is the price of the cheapest wireless earbuds on this page?\n"
        "PREVIOUS ACTION: type [1532] [wireless earphones] [1]"
    )
    assert split_documents(text) == []
    messages = [{"role": "system", "content": "You are a web agent."}, {"role": "user", "content": text}]
    out = compress(messages, policy=Policy(level=level)).messages[1]["content"]
    assert out == text
    for element in re.findall(r"\[\d+\]", tree):
        assert element in out


def test_markdown_reference_links_are_not_documents() -> None:
    links = "\n".join(f"[{k}]: https://github.com/encode/httpx/issues/{2980 + k}" for k in range(1, 7))
    body = (
        "Proxy environment variables are ignored when trust_env is set and a mounts mapping is given. "
        "This used to work and broke with the transport refactor described in the changelog [1], while "
        "the docs still say environment proxies apply to every request not matched by a mount [2]. "
    )
    text = f"Consider the following issue description:\n\n{body * 6}\n\n{links}\n\nHow should this be fixed?"
    assert split_documents(text) == []
    out = compress([{"role": "user", "content": text}], policy=Policy(level="aggressive")).messages[0]
    assert all(f"issues/{2980 + k}" in out["content"] for k in range(1, 7))


def test_bare_numbered_passages_are_still_documents() -> None:
    docs = [*DISTRACTORS[:4], GOLD, *DISTRACTORS[4:]]
    text = "Use these sources:\n\n" + "\n\n".join(f"[{i + 1}] {t}\n{b}" for i, (t, b) in enumerate(docs))
    assert len(split_documents(text)) == len(docs)


# --- 3. source files in document tags ----------------------------------------------------------

INVOICE = """from decimal import Decimal, ROUND_HALF_UP
from dataclasses import dataclass, field

VAT_RATES = {
    "DE": Decimal("0.19"),
    "FR": Decimal("0.20"),
    "NL": Decimal("0.21"),
    "IT": Decimal("0.22"),
    "ES": Decimal("0.21"),
    "PL": Decimal("0.23"),
    "SE": Decimal("0.25"),
    "AT": Decimal("0.20"),
}


@dataclass
class Invoice:
    country: str
    lines: list[Decimal] = field(default_factory=list)

    def net(self) -> Decimal:
        return sum(self.lines, Decimal(0))

    def vat(self) -> Decimal:
        rate = VAT_RATES[self.country]
        return (self.net() * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def total(self) -> Decimal:
        return self.net() + self.vat()
"""
DISTANCE = '''"""Great-circle helpers."""
import math

EARTH_RADIUS_KM = 6371.0088


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in km between two points given in decimal degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = math.radians(lat2 - lat1)
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing in degrees from point 1 to point 2."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lon2 - lon1)
    x = math.sin(dlmb) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return math.degrees(math.atan2(x, y))
'''
DURATION = """const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60 * 1000,
  h: 60 * 60 * 1000,
};

export function parseDuration(input: string): number {
  if (input.length === 0) throw new Error("empty duration");
  const re = /(\\d+)([a-z]+)/g;
  let total = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(input)) !== null) {
    const [, amount, unit] = match;
    total += Number(amount) * UNITS[unit];
  }
  return total;
}

export function formatDuration(ms: number): string {
  const parts: string[] = [];
  for (const unit of ["h", "m", "s"]) {
    const size = UNITS[unit];
    if (ms >= size) {
      parts.push(`${Math.floor(ms / size)}${unit}`);
      ms %= size;
    }
  }
  return parts.join("") || "0s";
}
"""
FILES = [
    ("app/billing/invoice.py", INVOICE),
    ("src/geo/distance.py", DISTANCE),
    ("src/duration.ts", DURATION),
]


def _file_block(i: int, path: str, code: str) -> str:
    return (
        f'<document index="{i + 1}">\n<source>{path}</source>\n<document_content>\n{code}'
        "</document_content>\n</document>\n"
    )


CODE_QUESTION = "Why does vat() raise KeyError for Belgium, and what is the fix?"


def _code_prompt() -> str:
    """Past the documents stage's size threshold (600 estimated tokens)."""
    blocks = "".join(_file_block(i, p, c) for i, (p, c) in enumerate(FILES))
    return f"<documents>\n{blocks}</documents>\n\n{CODE_QUESTION}"


def test_a_tagged_document_header_holds_its_metadata_lines() -> None:
    text = _code_prompt()
    segs = split_documents(text)
    assert [text[s.start : s.body_start] for s in segs] == [
        f'<document index="{i + 1}">\n<source>{p}</source>\n<document_content>\n'
        for i, (p, _) in enumerate(FILES)
    ]
    assert all(text[s.body_end : s.end] == "\n</document_content>\n</document>\n" for s in segs)


@pytest.mark.parametrize("level", LEVELS)
def test_source_files_are_kept_or_dropped_whole(level: str) -> None:
    text = _code_prompt()
    out = compress([{"role": "user", "content": text}], policy=Policy(level=level)).messages[0]["content"]
    assert len(out) < len(text) and out.endswith(
        "Why does vat() raise KeyError for Belgium, and what is the fix?"
    )
    kept = [i for i, (p, c) in enumerate(FILES) if p in out]
    assert 0 in kept  # the file the question is about
    for i, (path, code) in enumerate(FILES):
        block = _file_block(i, path, code)
        assert (block in out) == (i in kept), path  # whole, with its path, or not at all
        if i not in kept:
            assert not any(line.strip() and line in out for line in code.splitlines() if len(line) > 30)


def test_a_fenced_block_inside_a_prose_document_is_one_unit() -> None:
    code = "```python\ndef lighthouse_height():\n    return 103  # metres, lower estimate\n```"
    docs = [*DISTRACTORS[:4], GOLD, *DISTRACTORS[4:]]
    parts = [f"Document [{i + 1}](Title: {t}) {b}" for i, (t, b) in enumerate(docs)]
    parts[4] += "\nThe height in code:\n" + code + "\nThe lighthouse of alexandria height is in metres."
    system = "Answer using only the provided search results.\n\n" + "\n\n".join(parts)
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "how tall was the lighthouse of alexandria in metres"},
    ]
    whole = 0
    for rate in (0.1, 0.2, 0.3, 0.45):
        out = compress(messages, policy=Policy(level="balanced", rate=rate)).messages[0]["content"]
        assert len(out) < len(system)
        assert (code in out) or ("def lighthouse_height" not in out and "return 103" not in out), rate
        whole += code in out
    assert whole  # the block is kept where it answers, and then whole
