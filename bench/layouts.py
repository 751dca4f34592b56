"""The NQ-20 and GSM8K records of ``bench/compression.py`` in the other prompt layouts clients send.

The evaluation data keeps the documents (or demonstrations) in the system message and the
question alone in the last user message. Real clients also put instruction, documents and
question in one user message (question last or first), tag documents in XML, group them as
markdown sections, send bare "Context:" paragraphs without titles, or return them from a
retrieval tool (as text or as JSON records); few-shot prompts come as one user message too. This
bench re-lays the same records (same documents, order, questions and gold answers) into each of
those layouts and reports the same columns as ``bench/compression.py``, so a compressor that only
recognises the evaluation layout shows up as 0% on the others.

Usage::

    python bench/layouts.py [--data DIR] [--limit N] [--levels balanced,aggressive] [--json]

Exits 0 with a message when the data directory is absent.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import DEFAULT_DATA, LEVELS, load_records, render_table, run  # noqa: E402

Doc = tuple[str, str]  # title, text
Layout = Callable[[str, str, list[Doc]], list[dict[str, Any]]]

_DOC = re.compile(r"Document \[\d+\]\(Title: (.*?)\) (.*?)(?=\nDocument \[\d+\]\(Title: |\Z)", re.S)


def _numbered(docs: list[Doc], sep: str = "\n") -> str:
    return sep.join(f"Document [{i + 1}](Title: {t}) {x}" for i, (t, x) in enumerate(docs))


def _one_message(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"{instruction}\n\n{_numbered(docs)}\n\nQuestion: {question}\nAnswer:"}
    ]


def _question_first(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    sources = "\n\n".join(f"[{i + 1}] {t}\n{x}" for i, (t, x) in enumerate(docs))
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"Question: {question}\n\nUse these sources:\n\n{sources}"},
    ]


def _xml(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    body = "\n".join(
        f'<document index="{i + 1}">\n<source>{t}</source>\n'
        f"<document_content>\n{x}\n</document_content>\n</document>"
        for i, (t, x) in enumerate(docs)
    )
    return [{"role": "user", "content": f"<documents>\n{body}\n</documents>\n\n{question}"}]


def _markdown(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    sections = "\n\n".join(f"## {t}\n\n{x}" for t, x in docs)
    return [
        {"role": "system", "content": f"{instruction}\n\n# Context\n\n{sections}"},
        {"role": "user", "content": question},
    ]


def _bare_paragraphs(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    context = "\n\n".join(x for _, x in docs)
    return [{"role": "user", "content": f"Context:\n{context}\n\nAnswer the question: {question}"}]


def _tool_result(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "search", "arguments": json.dumps({"q": question})},
    }
    return [
        {"role": "system", "content": instruction},
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": _numbered(docs, "\n\n")},
    ]


def _tool_json(instruction: str, question: str, docs: list[Doc]) -> list[dict[str, Any]]:
    messages = _tool_result(instruction, question, docs)
    results = [
        {"title": t, "url": f"https://en.wikipedia.org/wiki/{i}", "content": x}
        for i, (t, x) in enumerate(docs)
    ]
    messages[-1]["content"] = json.dumps({"query": question, "results": results}, ensure_ascii=False)
    return messages


LAYOUTS: dict[str, Layout] = {
    "one-msg": _one_message,
    "q-first": _question_first,
    "xml": _xml,
    "md": _markdown,
    "paras": _bare_paragraphs,
    "tool": _tool_result,
    "tool-json": _tool_json,
}


def relay(record: dict[str, Any], layout: str) -> dict[str, Any] | None:
    """``record`` (an NQ-20 record) in ``layout``, or ``None`` when its documents do not parse."""
    system = record["messages"][0]["content"]
    instruction, _, rest = system.partition("\n\n")
    docs = [(t, x.strip()) for t, x in _DOC.findall(rest)]
    if len(docs) < 3 or not record.get("query"):
        return None
    messages = LAYOUTS[layout](instruction, record["query"], docs)
    return {**record, "source": f"{record['source'][:4]}/{layout}", "messages": messages}


def one_message_fewshot(record: dict[str, Any]) -> dict[str, Any] | None:
    """A GSM8K record with its demonstrations and the question sent as one user message."""
    texts = [m.get("content") for m in record["messages"]]
    if not all(isinstance(t, str) for t in texts):
        return None
    return {**record, "source": "gsm8k/one-msg", "messages": [{"role": "user", "content": "\n".join(texts)}]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of *.jsonl files")
    parser.add_argument("--limit", type=int, default=None, help="NQ records per gold position")
    parser.add_argument(
        "--levels", default="balanced,aggressive", help="comma list; identity is always included"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    if not (args.data / "nq20.jsonl").is_file():
        print(f"layouts bench: no nq20.jsonl at {args.data}; skipping (pass --data DIR)")
        return 0
    levels = [
        "identity",
        *(lv.strip() for lv in args.levels.split(",") if lv.strip() and lv.strip() != "identity"),
    ]
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        parser.error(f"unknown level(s) {unknown}; known: {', '.join(LEVELS)}")
    records = load_records(args.data, args.limit)
    nq = [r for s, rs in records.items() if s.startswith("nq20") for r in rs]
    by_source: dict[str, list[dict[str, Any]]] = {"nq20/eval": [{**r, "source": "nq20/eval"} for r in nq]}
    for layout in LAYOUTS:
        relaid = [x for r in nq if (x := relay(r, layout)) is not None]
        by_source[f"nq20/{layout}"] = relaid
    gsm8k = records.get("gsm8k_cot", [])
    if gsm8k:
        by_source["gsm8k/eval"] = [{**r, "source": "gsm8k/eval"} for r in gsm8k]
        by_source["gsm8k/one-msg"] = [x for r in gsm8k if (x := one_message_fewshot(r)) is not None]
    rows = run(by_source, levels)
    summaries = [r.summary() for r in rows]
    summaries.sort(key=lambda s: (list(by_source).index(s["source"]), LEVELS.index(s["level"])))
    if args.json:
        json.dump({"per_layout": summaries, "levels": levels}, sys.stdout, indent=1)
        print()
    else:
        print(render_table(summaries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
