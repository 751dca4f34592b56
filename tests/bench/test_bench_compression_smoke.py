"""bench/compression.py on a tiny synthetic data set: it runs, reports the identity baseline, and
its metrics mean what they say."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from opencompress.compression import CompressionResult
from support.bench import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("compression")


def _record(source: str, i: int, answers: list[str]) -> dict[str, Any]:
    docs = "\n".join(
        f"Document [{k}](Title: T{k}) Item {k} costs {k * 3} dollars in shop {k}." for k in range(1, 6)
    )
    return {
        "id": f"{source}-{i}",
        "source": source,
        "messages": [
            {"role": "system", "content": "Use the provided search results.\n\n" + docs},
            {"role": "user", "content": f"Question: what does item {i} cost\nAnswer:"},
        ],
        "answers": answers,
        "query": f"what does item {i} cost",
        "meta": {},
    }


def _write_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    with (data / "nq20.jsonl").open("w") as fh:
        for i in range(1, 4):
            fh.write(json.dumps(_record("nq20_gold0", i, [f"{i * 3} dollars", "not in the text"])) + "\n")
    with (data / "gsm8k_cot.jsonl").open("w") as fh:
        demo = "".join(
            f"Question: what is {k} + {k}?\nLet's think step by step\nThe answer is {2 * k}\n\n"
            for k in range(4)
        )
        record = _record("gsm8k_cot", 1, [])
        record["messages"][0]["content"] = "Reference these examples,\n" + demo
        fh.write(json.dumps(record) + "\n")
    return data


def test_runs_and_reports_identity_baseline_in_the_same_run(
    bench: ModuleType, tmp_path: Path, capsys
) -> None:
    data = _write_data(tmp_path)
    assert bench.main(["--data", str(data), "--json", "--levels", "lossless,balanced", "--limit", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["levels"] == ["identity", "lossless", "balanced"]
    rows = {(r["source"], r["level"]): r for r in report["per_source"]}
    ident = rows[("nq20_gold0", "identity")]
    assert ident["n"] == 2  # --limit is per source
    assert ident["reduction"] == 0.0 and ident["grew"] == 0
    assert ident["answer_retention_all"] == 1.0 and ident["number_retention"] == 1.0
    assert ident["question_kept"] == 1.0
    assert rows[("gsm8k_cot", "identity")]["answer_retention_all"] is None  # no answers: n/a
    assert rows[("gsm8k_cot", "identity")]["demos_kept_mean"] == 4
    for row in report["per_source"]:
        assert row["tokens_after"] <= row["tokens_before"] or row["level"] == "identity"
        assert row["p50_ms"] is not None and row["tokens_per_s"] > 0
    assert {r["level"] for r in report["overall"]} == {"identity", "lossless", "balanced"}


def test_text_table_output(bench: ModuleType, tmp_path: Path, capsys) -> None:
    data = _write_data(tmp_path)
    assert bench.main(["--data", str(data), "--levels", "identity"]) == 0
    out = capsys.readouterr().out
    assert "reduction" in out and "nq20_gold0" in out and "ALL" in out


def test_missing_data_skips_with_exit_zero(bench: ModuleType, tmp_path: Path, capsys) -> None:
    assert bench.main(["--data", str(tmp_path / "nowhere")]) == 0
    assert "skipping" in capsys.readouterr().out


def test_metrics_detect_losses(bench: ModuleType) -> None:
    record = _record("nq20_gold0", 2, ["6 dollars"])
    lossy = [dict(m) for m in record["messages"]]
    lossy[0]["content"] = "Use the provided search results."
    lossy[1]["content"] = lossy[1]["content"].replace("item", "an item")
    row = bench.Row("nq20_gold0", "x")
    bench.measure(row, record, CompressionResult(messages=lossy, level="balanced"), 0.001)
    summary = row.summary()
    assert summary["answer_retention_all"] == 0.0
    assert summary["number_retention"] < 0.1  # only the question's "2" survives
    assert summary["question_kept"] == 0.0
    assert summary["reduction"] > 0.5
    assert summary["grew"] == 0
    grown = [dict(m) for m in record["messages"]]
    grown[0]["content"] += " and a much longer tail" * 5
    bench.measure(row, record, CompressionResult(messages=grown, level="balanced"), 0.001)
    assert row.summary()["grew"] == 1


def test_number_tokens_ignore_json_spacing(bench: ModuleType) -> None:
    assert (
        bench.number_tokens('{"a": 1, "b": "x2y"}')
        == bench.number_tokens('{"a":1,"b":"x2y"}')
        == {"1", "x2y"}
    )
    assert bench.number_tokens("costs 150,782 SEK in 2007.") == {"150", "782", "2007"}


def test_a_question_sharing_its_message_with_documents_is_kept_when_its_words_are(bench: ModuleType) -> None:
    record = _record("nq20_gold0", 2, [])
    docs, question = record["messages"][0]["content"], record["messages"][1]["content"]
    record["messages"] = [{"role": "user", "content": docs + "\n\n" + question}]
    cut = [{"role": "user", "content": docs.split("\n")[0] + "\n" + question}]
    row = bench.Row("nq20_gold0", "x")
    bench.measure(row, record, CompressionResult(messages=cut, level="balanced"), 0.001)
    bench.measure(
        row, record, CompressionResult(messages=[{"role": "user", "content": docs}], level="balanced"), 0.001
    )
    assert row.summary()["question_kept"] == 0.5
