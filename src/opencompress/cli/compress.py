"""``opencompress compress``: run the compression engine locally, without a gateway or an LLM.

Two modes:

* ``opencompress compress [FILE|-] [--level L] [--rate R]`` reads one JSON document (a ``messages``
  list, or an object with ``messages`` and optional ``tools``) and writes the same shape with the
  messages compressed to stdout; the stats table goes to stderr, so stdout stays machine-usable.
* ``opencompress compress [FILE|-] --jsonl [--level L] [--rate R]`` is the driver for outside
  evaluation tools: one ``{"messages": [...], "query": ...}`` object per line (of FILE or stdin) in, one
  ``{"messages": [...], "stats": {...}}`` line out, flushed per line. A bad line yields
  ``{"error": "..."}`` and the stream goes on. ``query`` is accepted but the engine takes the
  question from the last user message, exactly as the gateway does (so results match production).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import typer
from rich.console import Console
from rich.table import Table

from opencompress.compression import LEVELS, CompressionResult, Level, Policy, compress
from opencompress.tokens import count_messages


class InputError(Exception):
    """The input document is not a chat request we can compress (reported, never a traceback)."""


def parse_request(value: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """``(messages, tools)`` from a messages list or an object holding ``messages`` (and ``tools``)."""
    if isinstance(value, Mapping):
        messages = value.get("messages")
        tools = value.get("tools")
    else:
        messages, tools = value, None
    if not isinstance(messages, list) or not all(isinstance(m, Mapping) for m in messages):
        raise InputError("expected a list of message objects, or an object with a 'messages' list")
    for i, m in enumerate(messages):
        if not isinstance(m.get("role"), str):
            raise InputError(f"messages[{i}] has no string 'role'")
    if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools)):
        raise InputError("'tools' must be a list of objects")
    return [dict(m) for m in messages], ([dict(t) for t in tools] if tools is not None else None)


def stats_of(original: list[dict[str, Any]], result: CompressionResult) -> dict[str, Any]:
    before = count_messages(original)
    after = count_messages(result.messages)
    return {
        "level": result.level,
        "original_tokens": before,
        "compressed_tokens": after,
        "saved_tokens": before - after,
        "reduction": round((before - after) / before, 4) if before else 0.0,
        "stages_applied": list(result.stages_applied),
        "stages_failed": list(result.stages_failed),
    }


def _policy(level: str, rate: float | None) -> Policy:
    if level not in LEVELS:
        raise typer.BadParameter(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    if rate is not None and not 0.0 < rate <= 1.0:
        raise typer.BadParameter("--rate must be in (0, 1]: the share of selectable content to keep")
    lv: Level = level  # type: ignore[assignment]
    return Policy(level=lv, rate=rate)


_BOM = "\ufeff"
"""A UTF-8 byte-order mark, as Windows tools (PowerShell's redirection, Notepad) start files with:
not JSON, but never part of the request either, so it is skipped rather than reported."""


def compress_line(line: str, policy: Policy) -> dict[str, Any]:
    """One JSONL request → one response object (``{"error": ...}`` instead of raising)."""
    try:
        messages, tools = parse_request(json.loads(line.lstrip(_BOM)))
        result = compress(messages, tools=tools, policy=policy)
        return {"messages": result.messages, "stats": stats_of(messages, result)}
    except json.JSONDecodeError as exc:
        return {"error": f"invalid JSON: {exc.msg} at column {exc.colno}"}
    except InputError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one bad request must not end an evaluation run
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_jsonl(lines: Iterable[str], out: IO[str], policy: Policy) -> int:
    """Stream mode; returns the number of error lines."""
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        response = compress_line(line, policy)
        errors += "error" in response
        out.write(json.dumps(response, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def stats_table(stats: Mapping[str, Any]) -> Table:
    table = Table(title="opencompress", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("level", str(stats["level"]))
    table.add_row("original tokens (o200k)", f"{stats['original_tokens']:,}")
    table.add_row("compressed tokens", f"{stats['compressed_tokens']:,}")
    table.add_row("reduction", f"{stats['reduction'] * 100:.1f}%")
    table.add_row("stages applied", ", ".join(stats["stages_applied"]) or "-")
    if stats["stages_failed"]:
        table.add_row("stages failed (skipped)", ", ".join(stats["stages_failed"]))
    return table


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read().lstrip(_BOM)
    try:
        return Path(file).read_text(encoding="utf-8").lstrip(_BOM)
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}") from exc


def register(app: typer.Typer) -> None:
    @app.command("compress")
    def compress_command(
        file: str = typer.Argument("-", help="JSON file (messages list or {messages, tools}); - for stdin"),
        level: str = typer.Option("balanced", "--level", "-l", help=f"one of {', '.join(LEVELS)}"),
        rate: float | None = typer.Option(None, "--rate", "-r", help="share of selectable content to keep"),
        jsonl: bool = typer.Option(
            False, "--jsonl", help="one request per line of FILE (or stdin), one result per line"
        ),
    ) -> None:
        """Compress chat messages locally and print them as JSON (stats on stderr)."""
        policy = _policy(level, rate)
        err = Console(stderr=True)
        if jsonl:
            if file == "-":
                run_jsonl(sys.stdin, sys.stdout, policy)
                return
            try:
                lines = open(file, encoding="utf-8")  # closed by the with below; read line by line
            except OSError as exc:
                err.print(f"[red]error:[/red] cannot read {file}: {exc.strerror or exc}")
                raise typer.Exit(code=2) from exc
            with lines:
                run_jsonl(lines, sys.stdout, policy)
            return
        try:
            document = json.loads(_read(file))
            messages, tools = parse_request(document)
        except json.JSONDecodeError as exc:
            err.print(f"[red]error:[/red] invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
            raise typer.Exit(code=2) from exc
        except InputError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=2) from exc
        result = compress(messages, tools=tools, policy=policy)
        output: Any = (
            {**document, "messages": result.messages} if isinstance(document, Mapping) else result.messages
        )
        sys.stdout.write(json.dumps(output, ensure_ascii=False, indent=2) + "\n")
        sys.stdout.flush()
        err.print(stats_table(stats_of(messages, result)))
