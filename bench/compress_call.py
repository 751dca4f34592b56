"""What one ``compress()`` call costs on the gateway benchmark's small prompt, per level.

The gateway compresses every request on the event loop when the prompt is small, so a few
microseconds here show up in ``bench/gateway.py``'s "compression balanced" row. This isolates
them: ``timeit`` over ``--number`` calls, best of ``--repeat``, twice per level: with the same
messages every time (the per-text cache hits) and with a last message that differs per call
(a new question each time, as real traffic has).

Usage::

    python bench/compress_call.py [--number 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import timeit
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway import MESSAGES  # noqa: E402
from opencompress.compression import Policy, compress  # noqa: E402


def per_call_us(messages_for_call: object, level: str, number: int, repeat: int) -> float:
    policy = Policy(level=level)  # type: ignore[arg-type]
    make = messages_for_call if callable(messages_for_call) else (lambda: messages_for_call)

    def call() -> None:
        compress(make(), policy=policy)

    for _ in range(200):  # warm the caches and the tokenizer
        call()
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure (the best is shown)")
    args = parser.parse_args(argv)
    counter = itertools.count()

    def new_question() -> list[dict[str, str]]:
        last = MESSAGES[-1]
        return [*MESSAGES[:-1], {**last, "content": f"{last['content']} ({next(counter)})"}]

    print(f"{'level':>10} {'same messages':>15} {'new question':>14}   (us per compress() call)")
    for level in ("lossless", "balanced", "aggressive"):
        same = per_call_us(MESSAGES, level, args.number, args.repeat)
        fresh = per_call_us(new_question, level, args.number, args.repeat)
        print(f"{level:>10} {same:15.1f} {fresh:14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
