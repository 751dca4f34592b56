"""The README's configuration table is generated from Settings; keep them equal."""

from __future__ import annotations

from pathlib import Path

from opencompress.config import config_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def test_readme_config_table_matches_settings() -> None:
    text = README.read_text()
    table = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert table == config_table(), "run: uv run python scripts/update_readme.py"
