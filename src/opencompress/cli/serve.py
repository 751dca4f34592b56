"""``opencompress serve`` and ``opencompress config-table``."""

from __future__ import annotations

import logging

import typer
import uvicorn

from opencompress.config import Settings, config_table


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str | None = typer.Option(
            None, help="Interface to bind (default OPENCOMPRESS_HOST or 127.0.0.1)"
        ),
        port: int | None = typer.Option(None, help="Port (default OPENCOMPRESS_PORT or 8080)"),
    ) -> None:
        """Run the gateway. With an empty database it creates the schema (and, in dev mode, a demo key)."""
        from opencompress.http.app import create_app

        settings = Settings.load()
        settings = settings.replace(host=host or settings.host, port=port or settings.port)
        logging.basicConfig(
            level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        )

    @app.command("config-table")
    def print_config_table() -> None:
        """Print the configuration table (the README's is generated from this)."""
        typer.echo(config_table())
