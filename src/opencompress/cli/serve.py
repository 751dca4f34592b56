"""``opencompress serve`` and ``opencompress config-table``."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType

import typer
import uvicorn

from opencompress.config import Settings, config_table
from opencompress.errors import StorageError
from opencompress.observability.logs import configure_logging


async def _reach_database(url: str) -> None:
    """Connect and apply pending migrations before the server starts, so an unreachable database,
    a refused password or a failing migration is one line, not a traceback. The app's own startup
    then finds the schema up to date (migrations are idempotent and safe to race)."""
    from opencompress.storage import open_storage

    storage = open_storage(url)
    try:
        await storage.migrate()
    finally:
        await storage.close()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str | None = typer.Option(
            None, help="Interface to bind (default OPENCOMPRESS_HOST or 127.0.0.1)"
        ),
        port: int | None = typer.Option(None, help="Port (default OPENCOMPRESS_PORT or 8080)"),
    ) -> None:
        """Run the gateway. With an empty database it creates the schema (and, in dev mode, a demo key)."""
        from opencompress.accounts.byok import ByokCipher, ByokConfigError
        from opencompress.billing.prices import PriceTable
        from opencompress.http.app import create_app
        from opencompress.ratelimit.fallback import redis_limiter_class
        from opencompress.storage import open_storage

        for warning in Settings.warnings():
            typer.echo(f"warning: {warning}", err=True)
        # Everything that can be refused without I/O is checked before the app creates anything
        # (schema, demo account, simulator): a bad setting, prices file, database URL, BYOK secret
        # or missing optional driver is one line naming it, not a traceback from the lifespan.
        if port is not None and not 1 <= port <= 65535:
            # 0 used to fall back to 8080 silently, and 70000 was blamed on OPENCOMPRESS_PORT
            typer.echo(f"error: --port must be an integer from 1 to 65535, got {port}", err=True)
            raise typer.Exit(code=1)
        try:
            loaded = Settings.load()
            settings = loaded.replace(host=host or loaded.host, port=loaded.port if port is None else port)
            PriceTable.load(settings)
            open_storage(settings.database_url)  # lazy: checks the URL and its driver, opens nothing
            if settings.redis_url:
                redis_limiter_class(settings.redis_url)
            ByokCipher.from_settings(settings)  # a malformed OPENCOMPRESS_SECRET_KEY
        except (ValueError, ByokConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        try:
            asyncio.run(_reach_database(settings.database_url))
        except StorageError as exc:
            # a wrong password or host used to be a traceback from the lifespan, then "startup failed"
            typer.echo(f"error: the database cannot be used: {exc}", err=True)
            raise typer.Exit(code=1) from None
        configure_logging(settings.log_level, settings.log_format)
        # uvicorn handles SIGTERM itself (stop accepting, let in-flight streams finish for up to
        # shutdown_grace_s, then the lifespan settles their charges and closes storage) and re-raises
        # the signal afterwards; this handler turns that re-raise into a clean exit status 0.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=None,  # keep our JSON handler: uvicorn's lines go through it too
            access_log=False,  # the gateway writes its own line per request
            timeout_graceful_shutdown=max(1, round(settings.shutdown_grace_s)),
        )

    @app.command("config-table")
    def print_config_table() -> None:
        """Print the configuration table (the README's is generated from this)."""
        typer.echo(config_table())
