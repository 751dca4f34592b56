"""JSON retrieval records: which JSON counts, and selection that keeps records byte for byte."""

from __future__ import annotations

import json

from opencompress.compression.text.bm25 import query_terms
from opencompress.compression.text.jsonrecords import find_records, select_records
from support.rag_docs import DISTRACTORS, GOLD

DOCS = [*DISTRACTORS[:4], GOLD, *DISTRACTORS[4:]]
TERMS = query_terms("when was the lighthouse of alexandria constructed")


def _records(**extra: object) -> list[dict[str, object]]:
    return [{"title": t, "content": b, "score": 0.50 + i / 100, **extra} for i, (t, b) in enumerate(DOCS)]


def test_a_top_level_list_and_a_single_results_member_are_records() -> None:
    assert len(find_records(json.dumps(_records())).spans) == len(DOCS)  # type: ignore[union-attr]
    wrapped = json.dumps({"query": "lighthouse", "results": _records(), "took_ms": 12}, indent=2)
    found = find_records(wrapped)
    assert found is not None and [v["title"] for v in found.values] == [t for t, _ in DOCS]


def test_lists_without_passages_and_ambiguous_objects_are_not_records() -> None:
    rows = [{"id": i, "name": f"file_{i}.py", "size": i * 100} for i in range(20)]
    assert find_records(json.dumps(rows)) is None
    assert find_records(json.dumps({"a": _records(), "b": _records()})) is None
    assert find_records(json.dumps(_records()[:2])) is None
    assert find_records("Results: " + json.dumps(_records())) is None
    assert find_records('[{"content": "unterminated') is None


def test_selection_keeps_the_best_records_verbatim_in_order() -> None:
    text = json.dumps(_records(price="1.50"), indent=2).replace('"1.50"', "1.50")
    text = text.replace("Alexandria", "Alexandri\\u0061", 1)  # an escape must stay an escape
    found = find_records(text)
    assert found is not None
    out = select_records(text, found, TERMS, 0.3)
    assert out is not None and len(out) < len(text)
    kept = json.loads(out)
    assert any("280 BC" in r["content"] for r in kept)
    titles = [r["title"] for r in kept]
    assert titles == [t for t, _ in DOCS if t in titles]  # original order
    for s, e in found.spans:
        record = text[s:e]
        assert record in out or json.loads(record)["title"] not in titles  # kept ones byte for byte
    assert "Alexandri\\u0061" in text and ("Alexandri\\u0061" in out) == (DOCS[0][0] in titles)
    assert "1.50" in out


def test_no_match_or_nothing_to_drop_leaves_the_text() -> None:
    text = json.dumps(_records())
    found = find_records(text)
    assert found is not None
    assert select_records(text, found, query_terms("zzzz qqqq"), 0.3) is None
    assert select_records(text, found, TERMS, 1.0) is None


def test_the_aggressive_table_form_is_records_too() -> None:
    """``json_table`` (aggressive) runs before selection and turns the list into columns + rows."""
    rows = [[t, b] for t, b in DOCS]
    text = json.dumps({"query": "q", "results": {"columns": ["title", "content"], "rows": rows}})
    found = find_records(text)
    assert found is not None and found.values[4] == {"title": GOLD[0], "content": GOLD[1]}
    out = select_records(text, found, TERMS, 0.3)
    assert out is not None
    table = json.loads(out)["results"]
    assert table["columns"] == ["title", "content"] and [GOLD[0], GOLD[1]] in table["rows"]
    assert len(table["rows"]) < len(rows)


def test_lists_an_agent_acts_on_are_not_retrieval_records() -> None:
    issues = [
        {"number": i, "title": t, "body": b, "url": f"https://example.org/issues/{i}"}
        for i, (t, b) in enumerate(DOCS)
    ]
    assert find_records(json.dumps(issues)) is None
    products = [{"sku": f"A-{i}", "name": t, "description": b} for i, (t, b) in enumerate(DOCS)]
    assert find_records(json.dumps(products)) is None
