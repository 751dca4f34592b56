"""The ``opencompress`` command line: a thin shell over the same services the HTTP layer uses."""

from __future__ import annotations

import typer

from opencompress.cli import admin, compress, serve

app = typer.Typer(
    name="opencompress",
    help="OpenCompress: an OpenAI-compatible LLM gateway that compresses prompts.",
    no_args_is_help=True,
    add_completion=False,
)
serve.register(app)
admin.register(app)
compress.register(app)

__all__ = ["app"]
