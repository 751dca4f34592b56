"""How much of an agent's next request a provider's prompt cache can serve, with and without compression.

Providers cache exact prompt prefixes: the part of a request that starts with the same bytes as an
earlier request is read from cache, at a fraction of the input price (Anthropic bills cache reads at
0.1×; OpenAI discounts cached input tokens by 50–90% depending on the model). A compressor that
rewrites earlier messages differently from turn to turn would save tokens and lose the cache, and
could cost more than it saves. This is why compression must be prefix-stable.

The evaluation data holds each agent trajectory at two points: an earlier request and a later one
whose messages start with the earlier one's. For each pair and level this bench compresses both
requests with the compression caches cleared in between (the later turn may reach another replica,
so byte-equality must come from determinism, not from a cache) and reports:

* ``stable``: pairs whose earlier compressed messages, up to its last assistant message, reappear
  byte for byte at the start of the later compressed request. Must be every pair: this is the
  prefix-stability rule itself. The earlier request's own current turn (after its last assistant
  message) is left whole while it is current and may be compressed once it is history;
* ``later tok``: o200k prompt tokens of the later requests as sent (after compression);
* ``cached``: of those, the tokens in the longest run of leading messages that are byte-identical
  (as JSON) to the earlier request as sent, which is what a cache can serve; ``share`` = cached / later;
* ``eff@0.1`` and ``eff@0.5``: input tokens billed when cached tokens cost 0.1× or 0.5× of the
  price (uncached + price × cached), and the reduction of that figure against identity.

Usage::

    python bench/prefix_cache.py [--data DIR] [--json]

Exits 0 with a message when the data directory is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opencompress.compression import Policy, compress
from opencompress.compression.pipeline import clear_caches
from opencompress.tokens import count_messages

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compression import DEFAULT_DATA, LEVELS  # noqa: E402

CACHE_PRICES = (0.1, 0.5)
Messages = list[dict[str, Any]]


def trajectory_pairs(records: Sequence[Mapping[str, Any]]) -> list[tuple[Messages, Messages]]:
    """Each record that continues another, with the longest record it continues: found from the
    messages themselves (one list starts with the other), not from ids."""
    ordered = sorted(records, key=lambda r: len(r["messages"]))
    pairs = []
    for i, later in enumerate(ordered):
        msgs = later["messages"]
        earlier = [
            r["messages"]
            for r in ordered[:i]
            if len(r["messages"]) < len(msgs) and msgs[: len(r["messages"])] == r["messages"]
        ]
        if earlier:
            pairs.append((max(earlier, key=len), msgs))
    return pairs


def _sent(messages: Messages, level: str) -> Messages:
    if level == "identity":
        return messages
    clear_caches()
    return compress(messages, policy=Policy(level=level)).messages  # type: ignore[return-value]


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def _last_assistant(messages: Sequence[Mapping[str, Any]]) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)


def measure(pairs: Sequence[tuple[Messages, Messages]], level: str) -> dict[str, Any]:
    stable = later_tokens = cached = 0
    for earlier, later in pairs:
        sent_earlier, sent_later = _sent(earlier, level), _sent(later, level)
        history = _last_assistant(earlier) + 1
        stable += all(_same(x, y) for x, y in zip(sent_earlier[:history], sent_later[:history], strict=True))
        shared = 0
        while shared < min(len(sent_earlier), len(sent_later)) and _same(
            sent_earlier[shared], sent_later[shared]
        ):
            shared += 1
        later_tokens += count_messages(sent_later)
        cached += count_messages(sent_later[:shared]) - count_messages([])
    row: dict[str, Any] = {
        "level": level,
        "pairs": len(pairs),
        "stable": stable,
        "later_tokens": later_tokens,
        "cached_tokens": cached,
        "cached_share": cached / later_tokens if later_tokens else 0.0,
    }
    for price in CACHE_PRICES:
        row[f"effective@{price}"] = later_tokens - cached + price * cached
    return row


def with_reductions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's effective-input reduction against the identity row of the same run."""
    base = next(r for r in rows if r["level"] == "identity")
    for row in rows:
        row["reduction"] = 1 - row["later_tokens"] / base["later_tokens"] if base["later_tokens"] else 0.0
        for price in CACHE_PRICES:
            key = f"effective@{price}"
            row[f"reduction@{price}"] = 1 - row[key] / base[key] if base[key] else 0.0
    return rows


def render(rows: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f"{'level':>10} {'pairs':>5} {'stable':>6} {'later tok':>9} {'cached':>7} {'share':>6} "
        f"{'reduction':>9} {'eff@0.1':>8} {'red@0.1':>7} {'eff@0.5':>8} {'red@0.5':>7}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['level']:>10} {r['pairs']:>5} {r['stable']:>6} {r['later_tokens']:>9} "
            f"{r['cached_tokens']:>7} {r['cached_share']:>6.3f} {r['reduction']:>9.1%} "
            f"{r['effective@0.1']:>8.0f} {r['reduction@0.1']:>7.1%} "
            f"{r['effective@0.5']:>8.0f} {r['reduction@0.5']:>7.1%}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory holding agent_traj.jsonl")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    path = args.data / "agent_traj.jsonl"
    if not path.is_file():
        print(f"prefix-cache bench: no agent_traj.jsonl at {args.data}; skipping (pass --data DIR)")
        return 0
    with path.open(encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    pairs = trajectory_pairs(records)
    if not pairs:
        print(f"prefix-cache bench: no record in {path} continues another; nothing to measure")
        return 0
    rows = with_reductions([measure(pairs, level) for level in LEVELS])
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    else:
        print(render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
