"""`opencompress compress`: file/stdin mode and the --jsonl driver, via typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from opencompress.cli.compress import register

NOUNS = (
    "harbour volcano glacier orchard lighthouse monastery canal desert prairie reef "
    "cathedral fortress vineyard quarry lagoon meadow citadel aqueduct bazaar observatory"
).split()
ADJECTIVES = "old green quiet famous remote windy sunny rocky vast hidden".split()
DOCS = "\n".join(
    f"Document [{i + 1}](Title: The {noun}) The {noun} was first described by travellers long ago, "
    f"and local records mention the {noun} in many chronicles. Visitors to the {noun} counted "
    f"{(i + 1) * 7} notable features there. It is {' and '.join(ADJECTIVES[: i % 10 + 1])}."
    for i, noun in enumerate(NOUNS)
)
MESSAGES = [
    {"role": "system", "content": "Answer using only the provided search results.\n\n" + DOCS},
    {
        "role": "user",
        "content": "Question: how many notable features did visitors count at the lagoon\nAnswer:",
    },
]


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def noop() -> None:  # a second command keeps typer in sub-command mode, as in the real CLI
        """Unused."""

    return app


def _invoke(args: list[str], stdin: str | None = None):
    return CliRunner().invoke(_app(), args, input=stdin)


def test_file_mode_prints_json_on_stdout_and_stats_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "req.json"
    path.write_text(json.dumps({"model": "m", "messages": MESSAGES, "tools": []}))
    result = _invoke(["compress", str(path), "--level", "lossless"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "m" and out["tools"] == []
    assert out["messages"][-1] == MESSAGES[-1]
    assert "original tokens" in result.stderr and "lossless" in result.stderr


def test_stdin_list_mode_and_off_level_is_identity() -> None:
    result = _invoke(["compress", "-", "--level", "off"], stdin=json.dumps(MESSAGES))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == MESSAGES


def test_bad_input_and_bad_options_exit_non_zero(tmp_path: Path) -> None:
    assert _invoke(["compress", "-"], stdin="{nope").exit_code == 2
    assert _invoke(["compress", "-"], stdin='{"messages": [{"content": "x"}]}').exit_code == 2
    assert _invoke(["compress", str(tmp_path / "missing.json")]).exit_code == 2
    assert _invoke(["compress", "--level", "extreme"], stdin="[]").exit_code != 0
    assert _invoke(["compress", "--rate", "1.5"], stdin="[]").exit_code != 0


def test_jsonl_one_line_per_request_errors_do_not_stop_the_stream() -> None:
    lines = [
        json.dumps(
            {"messages": MESSAGES, "query": "how many notable features did visitors count at the lagoon"}
        ),
        "this is not json",
        "",
        json.dumps({"messages": "nope"}),
        json.dumps({"messages": MESSAGES[-1:]}),
    ]
    result = _invoke(["compress", "--jsonl", "--level", "balanced"], stdin="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4  # the blank line is skipped
    first = out[0]
    assert first["messages"][-1] == MESSAGES[-1]
    stats = first["stats"]
    assert stats["level"] == "balanced"
    assert stats["original_tokens"] >= stats["compressed_tokens"] > 0
    assert stats["saved_tokens"] == stats["original_tokens"] - stats["compressed_tokens"]
    assert isinstance(stats["stages_applied"], list)
    assert "error" in out[1] and "invalid JSON" in out[1]["error"]
    assert "error" in out[2]
    assert out[3]["messages"] == MESSAGES[-1:]


def test_jsonl_reads_a_named_file_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(json.dumps({"messages": MESSAGES[i:]}) for i in range(2)) + "\n")
    result = _invoke(["compress", str(path), "--jsonl", "--level", "off"], stdin="")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["messages"] for line in result.stdout.splitlines()] == [MESSAGES, MESSAGES[1:]]
    missing = _invoke(["compress", str(tmp_path / "missing.jsonl"), "--jsonl"], stdin="")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_a_byte_order_mark_is_not_an_error(tmp_path: Path) -> None:
    """Files written by Windows tools start with a BOM; it is skipped in both modes."""
    bom = "\ufeff"
    result = _invoke(["compress", "--jsonl"], stdin=bom + json.dumps({"messages": MESSAGES}) + "\r\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["messages"][-1] == MESSAGES[-1]
    path = tmp_path / "request.json"
    path.write_text(bom + json.dumps(MESSAGES), encoding="utf-8")
    result = _invoke(["compress", str(path), "--level", "off"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == MESSAGES


def test_jsonl_rate_is_passed_to_the_policy() -> None:
    line = json.dumps({"messages": MESSAGES})
    small = json.loads(_invoke(["compress", "--jsonl", "--rate", "0.2"], stdin=line).stdout)["stats"]
    full = json.loads(_invoke(["compress", "--jsonl", "--rate", "1.0"], stdin=line).stdout)["stats"]
    assert small["compressed_tokens"] < 0.5 * full["compressed_tokens"]
    assert full["compressed_tokens"] > 0.9 * full["original_tokens"]
    assert "documents" in small["stages_applied"] and "documents" not in full["stages_applied"]
