"""Fail when a source module grows past the size where it should be split (see README)."""

from __future__ import annotations

import sys
from pathlib import Path

LIMIT = 500
ALLOWED: dict[str, str] = {}
"""Modules allowed past the limit, each with the reason (none today)."""


def main() -> int:
    root = Path(__file__).resolve().parent.parent / "src"
    too_big = []
    for path in sorted(root.rglob("*.py")):
        lines = sum(1 for _ in path.open(encoding="utf-8"))
        rel = str(path.relative_to(root))
        if lines > LIMIT and rel not in ALLOWED:
            too_big.append(f"{rel}: {lines} lines (limit {LIMIT})")
    for line in too_big:
        print(line)
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main())
