"""Compression benchmark on the evaluation data in ``shared/data/compression`` (see its README).

For every source (nq20_gold0, nq20_gold9, squad, gsm8k_cot, kv75, agent_traj) and level
(identity = level "off", lossless, balanced, aggressive) it reports, in one run:

* token reduction: o200k prompt tokens before/after (:func:`opencompress.tokens.count_messages`),
  summed over the records of the source, and how many records grew (must be 0);
* answer retention: records whose gold ``answers`` that occur in the original (case-insensitive)
  all still occur after compression ("all"), and records where at least one still occurs ("any",
  the issue's wording: for NQ the answers are alternatives, not all of them are in the passage);
  ``n/a`` when the source has no answers;
* number retention: share of the original's digit-bearing tokens still present;
* question kept: the record's ``query`` occurs verbatim in the last user message (the question
  may share that message with documents that selection cuts); without a query (agent traces), the
  last user message is byte-identical, or, when tool turns already follow it (it is history then,
  compressed as every later turn compresses it), keeps its words, whitespace aside;
* demonstrations intact: every demonstration found in a compressed message occurs verbatim in the
  original message (``n/a`` when the source has none), with the mean number kept;
* p50/p99 latency of ``compress()`` and tokens/s on one core: original tokens / time spent inside
  ``compress()`` only (token counting is not timed).

Usage::

    python bench/compression.py [--data DIR] [--limit N] [--levels identity,lossless,...] [--json]
    python bench/compression.py --py package.module:function   # bench another compress callable

Exits 0 with a message when the data directory is absent (CI machines without the data).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opencompress.compression import CompressionResult, Policy, compress
from opencompress.compression.text.demos import find_demonstrations
from opencompress.tokens import count_messages

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "compression"
SOURCES = ("nq20_gold0", "nq20_gold9", "squad", "gsm8k_cot", "kv75", "agent_traj")
LEVELS = ("identity", "lossless", "balanced", "aggressive")
_NUMBER = re.compile(r"[\w.\-:/]*\d[\w.\-:/]*")

Compressor = Callable[..., CompressionResult]


@dataclass
class Row:
    source: str
    level: str
    n: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    answers_all: int = 0
    answers_any: int = 0
    answers_n: int = 0
    numbers_kept: int = 0
    numbers_total: int = 0
    question_kept: int = 0
    question_n: int = 0
    demos_intact: int = 0
    demos_n: int = 0
    demos_kept: int = 0
    grew: int = 0
    seconds: list[float] = field(default_factory=list)
    failed_stages: int = 0

    def summary(self) -> dict[str, Any]:
        secs = sorted(self.seconds)
        total = sum(secs)
        return {
            "source": self.source,
            "level": self.level,
            "n": self.n,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "reduction": _ratio(self.tokens_before - self.tokens_after, self.tokens_before),
            "grew": self.grew,
            "answer_retention_all": _ratio(self.answers_all, self.answers_n),
            "answer_retention_any": _ratio(self.answers_any, self.answers_n),
            "number_retention": _ratio(self.numbers_kept, self.numbers_total),
            "question_kept": _ratio(self.question_kept, self.question_n),
            "demos_intact": _ratio(self.demos_intact, self.demos_n),
            "demos_kept_mean": (self.demos_kept / self.demos_n) if self.demos_n else None,
            "p50_ms": _percentile(secs, 0.50) * 1000 if secs else None,
            "p99_ms": _percentile(secs, 0.99) * 1000 if secs else None,
            "tokens_per_s": (self.tokens_before / total) if total > 0 else None,
            "seconds": total,
            "failed_stages": self.failed_stages,
        }


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[max(0, min(98, round(q * 100) - 1))]


def message_texts(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every text a model would read: contents, text parts, tool-call names and arguments."""
    out: list[str] = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(
                p["text"] for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)
            )
        for call in m.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(fn, Mapping):
                out.append(str(fn.get("name", "")))
                out.append(str(fn.get("arguments", "")))
    return out


def number_tokens(text: str) -> set[str]:
    """Digit-bearing tokens, trimmed of edge punctuation so re-spacing JSON does not change them."""
    return {t.strip(".:-/") for t in _NUMBER.findall(text)} - {""}


def _last_user(messages: Sequence[Mapping[str, Any]]) -> Any:
    for m in reversed(messages):
        if m.get("role") == "user":
            return m.get("content")
    return None


def _in_tool_loop(messages: Sequence[Mapping[str, Any]]) -> bool:
    """Does an assistant message follow the last user message (a tool loop under way)?"""
    roles = [m.get("role") for m in messages]
    users = [i for i, r in enumerate(roles) if r == "user"]
    return bool(users) and "assistant" in roles[users[-1] :]


_SPACE = re.compile(r"\s+")


def _squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _demos(texts: Sequence[str]) -> list[str]:
    """Demonstrations, whitespace-normalised: the lossless stage may re-space a demonstration,
    which does not cut it; what must not happen is a demonstration missing or altered words."""
    return [_squash(t[d.start : d.end]) for t in texts for d in find_demonstrations(t)]


def demo_check(before_texts: Sequence[str], after: str) -> tuple[int, bool] | None:
    """(demonstrations kept whole, no demonstration cut) for the original's demonstrations, or
    None when it has none. A demonstration is *cut* when its first line survives but not all of it."""
    demos = _demos(before_texts)
    if not demos:
        return None
    squashed = _squash(after)
    whole = [d in squashed for d in demos]
    cut = [not w and d[:80] in squashed for d, w in zip(demos, whole, strict=True)]
    return sum(whole), not any(cut)


def measure(row: Row, record: Mapping[str, Any], result: CompressionResult, seconds: float) -> None:
    original = record["messages"]
    compressed = result.messages
    row.n += 1
    row.seconds.append(seconds)
    row.failed_stages += len(result.stages_failed)
    before_tokens = count_messages(original)
    after_tokens = count_messages(compressed)
    row.tokens_before += before_tokens
    row.tokens_after += after_tokens
    row.grew += after_tokens > before_tokens
    before_texts = message_texts(original)
    after_texts = message_texts(compressed)
    before = "\n".join(before_texts)
    after = "\n".join(after_texts)
    before_low = before.lower()
    present = [a.lower() for a in record.get("answers") or () if a.lower() in before_low]
    if present:
        after_low = after.lower()
        row.answers_n += 1
        hits = [a in after_low for a in present]
        row.answers_all += all(hits)
        row.answers_any += any(hits)
    nums = number_tokens(before)
    row.numbers_total += len(nums)
    row.numbers_kept += len(nums & number_tokens(after))
    question = _last_user(original)
    if question is not None:
        row.question_n += 1
        query = record.get("query")
        if isinstance(query, str) and query and query in "\n".join(message_texts([{"content": question}])):
            kept = message_texts([{"content": _last_user(compressed)}])
            row.question_kept += query in "\n".join(kept)
        elif _in_tool_loop(original):  # the question is history by now: its words must stay
            row.question_kept += _squash(
                " ".join(message_texts([{"content": _last_user(compressed)}]))
            ) == _squash(" ".join(message_texts([{"content": question}])))
        else:
            row.question_kept += _last_user(compressed) == question
    demos = demo_check(before_texts, after)
    if demos is not None:
        row.demos_n += 1
        row.demos_kept += demos[0]
        row.demos_intact += demos[1]


def load_records(data: Path, limit: int | None) -> dict[str, list[dict[str, Any]]]:
    by_source: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(data.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    by_source.setdefault(record["source"], []).append(record)
    if limit is not None:
        by_source = {s: rs[:limit] for s, rs in by_source.items()}
    order = {s: i for i, s in enumerate(SOURCES)}
    return dict(sorted(by_source.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def run(
    by_source: Mapping[str, Sequence[Mapping[str, Any]]],
    levels: Sequence[str],
    compressor: Compressor = compress,
) -> list[Row]:
    rows: list[Row] = []
    for level in levels:
        policy = Policy(level="off" if level == "identity" else level)  # type: ignore[arg-type]
        for source, records in by_source.items():
            row = Row(source, level)
            for record in records:
                tools = record.get("tools")
                start = time.perf_counter()
                result = compressor(record["messages"], tools=tools, policy=policy)
                seconds = time.perf_counter() - start
                measure(row, record, result, seconds)
            rows.append(row)
    return rows


def totals(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One whole-set line per level (tokens/s over every record is the speed target)."""
    out: list[dict[str, Any]] = []
    for level in dict.fromkeys(r.level for r in rows):
        merged = Row("ALL", level)
        for r in rows:
            if r.level != level:
                continue
            merged.n += r.n
            merged.tokens_before += r.tokens_before
            merged.tokens_after += r.tokens_after
            merged.grew += r.grew
            merged.numbers_kept += r.numbers_kept
            merged.numbers_total += r.numbers_total
            merged.seconds.extend(r.seconds)
            merged.failed_stages += r.failed_stages
        out.append(merged.summary())
    return out


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ret":
        return f"{value:.3f}"
    if kind == "ms":
        return f"{value:.2f}"
    if kind == "rate":
        return f"{value / 1000:,.0f}k"
    return str(value)


COLUMNS = (
    ("source", "source", "str", 11),
    ("level", "level", "str", 10),
    ("n", "n", "str", 4),
    ("tok before", "tokens_before", "str", 10),
    ("tok after", "tokens_after", "str", 10),
    ("reduction", "reduction", "pct", 9),
    ("grew", "grew", "str", 4),
    ("ans all", "answer_retention_all", "ret", 7),
    ("ans any", "answer_retention_any", "ret", 7),
    ("numbers", "number_retention", "ret", 7),
    ("question", "question_kept", "ret", 8),
    ("demos ok", "demos_intact", "ret", 8),
    ("demos", "demos_kept_mean", "ms", 5),
    ("p50 ms", "p50_ms", "ms", 7),
    ("p99 ms", "p99_ms", "ms", 7),
    ("tok/s", "tokens_per_s", "rate", 8),
)


def render_table(summaries: Sequence[Mapping[str, Any]]) -> str:
    lines = [" ".join(f"{title:>{width}}" for title, _, _, width in COLUMNS)]
    for s in summaries:
        lines.append(" ".join(f"{_fmt(s.get(key), kind):>{width}}" for _, key, kind, width in COLUMNS))
    return "\n".join(lines)


def _load_compressor(spec: str | None) -> Compressor:
    if not spec:
        return compress
    module, _, attr = spec.partition(":")
    fn = getattr(importlib.import_module(module), attr or "compress")
    if not callable(fn):
        raise SystemExit(f"--py {spec}: not callable")
    return fn  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of *.jsonl files")
    parser.add_argument("--limit", type=int, default=None, help="records per source")
    parser.add_argument("--levels", default=",".join(LEVELS), help="comma list; identity is always included")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--py", default=None, help="alternative compressor as module:function")
    args = parser.parse_args(argv)

    if not args.data.is_dir() or not any(args.data.glob("*.jsonl")):
        print(f"compression bench: no data at {args.data}; skipping (pass --data DIR)")
        return 0
    levels = [lv.strip() for lv in args.levels.split(",") if lv.strip()]
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        parser.error(f"unknown level(s) {unknown}; known: {', '.join(LEVELS)}")
    if "identity" not in levels:
        levels.insert(0, "identity")
    levels.sort(key=LEVELS.index)

    by_source = load_records(args.data, args.limit)
    rows = run(by_source, levels, _load_compressor(args.py))
    per_source = [r.summary() for r in rows]
    per_source.sort(key=lambda s: (list(by_source).index(s["source"]), LEVELS.index(s["level"])))
    overall = totals(rows)
    if args.json:
        json.dump({"per_source": per_source, "overall": overall, "levels": levels}, sys.stdout, indent=1)
        print()
    else:
        print(render_table(per_source))
        print()
        print(render_table(overall))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
