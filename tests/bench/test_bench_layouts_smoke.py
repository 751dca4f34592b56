"""bench/layouts.py: every layout carries the record's documents, question and answers over."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from support.bench import load_bench


@pytest.fixture(scope="module")
def layouts() -> ModuleType:
    return load_bench("layouts")


def _record(i: int) -> dict[str, object]:
    docs = "\n".join(
        f"Document [{k}](Title: Shop {k}) Item {k} costs {k * 3} dollars in shop {k}." for k in range(1, 6)
    )
    return {
        "id": f"nq-{i}",
        "source": "nq20_gold0",
        "messages": [
            {"role": "system", "content": "Use the provided search results.\n\n" + docs},
            {"role": "user", "content": f"Question: what does item {i} cost\nAnswer:"},
        ],
        "answers": [f"{i * 3} dollars"],
        "query": f"what does item {i} cost",
        "meta": {},
    }


@pytest.mark.parametrize("layout", ["one-msg", "q-first", "xml", "md", "paras", "tool", "tool-json"])
def test_each_layout_keeps_documents_question_and_answer(layouts: ModuleType, layout: str) -> None:
    record = _record(2)
    relaid = layouts.relay(record, layout)
    text = json.dumps(relaid["messages"])
    assert relaid["source"] == f"nq20/{layout}" and relaid["answers"] == record["answers"]
    assert all(f"Item {k} costs {k * 3} dollars in shop {k}." in text for k in range(1, 6))
    assert "what does item 2 cost" in text


def test_runs_and_skips_without_data(
    layouts: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert layouts.main(["--data", str(tmp_path)]) == 0
    assert "skipping" in capsys.readouterr().out
    (tmp_path / "nq20.jsonl").write_text("\n".join(json.dumps(_record(i)) for i in range(1, 4)) + "\n")
    assert layouts.main(["--data", str(tmp_path), "--levels", "balanced"]) == 0
    out = capsys.readouterr().out
    assert all(f"nq20/{name}" in out for name in ("eval", "one-msg", "q-first", "xml", "md", "paras", "tool"))
