"""Regenerate the README's configuration table from Settings (checked by tests/test_readme.py)."""

from __future__ import annotations

from pathlib import Path

from opencompress.config import config_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def main() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{config_table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
