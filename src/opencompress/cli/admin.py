"""Operator commands: ``accounts``, ``keys``, ``credit``, ``usage`` and ``migrate``.

Each command loads :class:`~opencompress.config.Settings`, opens the configured storage, applies
pending migrations (so the CLI works on a fresh database before ``serve`` ever ran), does its
work through :class:`~opencompress.accounts.AccountService`, and closes the storage. Output meant
for scripts goes to stdout (``accounts create`` prints only the id; ``keys create`` prints the
full key as its last line); explanations go to stderr. Errors print one line to stderr and exit 1.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opencompress.accounts.operator import OperatorService
from opencompress.accounts.service import AccountService
from opencompress.config import Settings
from opencompress.errors import OpenCompressError
from opencompress.money import format_usd, parse_usd
from opencompress.storage import ApiKey, Storage, UsageRecord, open_storage, sqlite_path
from opencompress.storage.sqlite_conn import MEMORY

T = TypeVar("T")


def register(app: typer.Typer) -> None:
    """Add the operator commands to ``app``."""
    accounts = typer.Typer(help="Create and list accounts, set emails and passwords.", no_args_is_help=True)
    keys = typer.Typer(help="Create, list and revoke sk-occ API keys.", no_args_is_help=True)
    app.add_typer(accounts, name="accounts")
    app.add_typer(keys, name="keys")
    _register_sign_in_commands(accounts)

    @accounts.command("list")
    def accounts_list() -> None:
        """List accounts with their balances."""
        rows = _run(lambda svc: svc.list_accounts())
        table = Table("id", "name", "email", "balance", "created")
        for a in rows:
            _add_row(table, a.id, a.name, a.email or "", format_usd(a.balance_micros), _when(a.created_at))
        _print_table(table, empty="No accounts yet." if not rows else None)

    @keys.command("create")
    def keys_create(
        account: str = typer.Option(..., "--account", help="Account id (acct_…)"),
        name: str = typer.Option("default", help="Label for the key"),
        mode: str = typer.Option("router", help="router (we pay the upstream) or byok (fee only)"),
        rpm: int | None = typer.Option(None, "--rpm", help="Requests per minute (default: server setting)"),
        concurrency: int | None = typer.Option(None, help="Concurrent requests (default: server setting)"),
    ) -> None:
        """Create a key. The full key is printed once, as the last line; store it now."""
        key, full_key = _run(
            lambda svc: svc.create_key(
                account, name=name, mode=mode, rpm_limit=rpm, concurrency_limit=concurrency
            )
        )
        _note(f"Created {key.mode} key {key.id} ({key.name!r}) for account {key.account_id}.")
        _note("This is the only time the full key is shown:")
        typer.echo(full_key)

    @keys.command("list")
    def keys_list(account: str = typer.Option(..., "--account", help="Account id (acct_…)")) -> None:
        """List an account's keys (never the keys themselves, only their prefixes)."""
        rows = _run(lambda svc: svc.list_keys(account))
        table = Table("id", "name", "prefix", "mode", "active", "last used", "rpm", "concurrency")
        for k in rows:
            _add_row(
                table,
                k.id,
                k.name,
                k.prefix + "…",
                k.mode,
                "yes" if k.is_active else "revoked",
                _when(k.last_used_at) if k.last_used_at else "never",
                str(k.rpm_limit or "default"),
                str(k.concurrency_limit or "default"),
            )
        _print_table(table, empty="No keys yet." if not rows else None)

    @keys.command("revoke")
    def keys_revoke(key_id: str = typer.Argument(..., help="Key id (key_…)")) -> None:
        """Revoke a key; it fails on its very next request. Revoking it again changes nothing."""

        async def revoke(svc: AccountService) -> tuple[ApiKey, bool]:
            before = await svc.storage.get_key(key_id)
            return await svc.revoke_key(key_id), before is not None and before.is_active

        key, was_active = _run(revoke)
        typer.echo(
            f"Revoked {key.id} ({key.name!r})."
            if was_active
            else f"{key.id} ({key.name!r}) was already revoked."
        )

    @app.command("credit")
    def credit(
        account: str = typer.Option(..., "--account", help="Account id (acct_…)"),
        usd: str = typer.Option(..., "--usd", help="Amount in dollars, e.g. 10.00"),
        reason: str = typer.Option("credit", help="Ledger note"),
    ) -> None:
        """Add prepaid credit to an account (written to the ledger)."""
        balance = _run(lambda svc: svc.credit(account, usd, reason=reason))
        typer.echo(
            f"Credited {format_usd(parse_usd(usd))} to {account}; balance is now {format_usd(balance)}."
        )

    @app.command("usage")
    def usage(
        account: str = typer.Option(..., "--account", help="Account id (acct_…)"),
        limit: int = typer.Option(20, min=1, max=1000, help="How many recent requests"),
    ) -> None:
        """Show an account's most recent requests."""

        async def fetch(svc: AccountService) -> list[UsageRecord]:
            await svc.get_account(account)
            return await svc.storage.list_usage(account, limit=limit)

        rows = _run(fetch)
        table = Table(
            "time", "request", "model", "mode", "input", "output", "saved", "fee", "charged", "ms", "status"
        )
        for u in rows:
            _add_row(
                table,
                _when(u.created_at),
                u.request_id,
                u.model,
                u.mode,
                f"{u.original_input_tokens}→{u.compressed_input_tokens}",
                str(u.output_tokens),
                format_usd(u.savings_micros),
                format_usd(u.fee_micros),
                format_usd(u.charged_micros),
                f"{u.total_ms:.0f}",
                u.status,
            )
        _print_table(table, empty="No requests yet." if not rows else None)

    @app.command("migrate")
    def migrate() -> None:
        """Apply pending database migrations and list them."""
        applied = _run(lambda svc: svc.storage.migrate(), migrate_first=False)
        for name in applied:
            typer.echo(f"applied {name}")
        if not applied:
            typer.echo("Database is up to date.")


def _register_sign_in_commands(accounts: typer.Typer) -> None:
    """``accounts create`` (optionally with a password), ``accounts set-email`` and
    ``accounts set-password``: sign-in needs an email, so an account made without one gets it
    from ``set-email`` before ``set-password`` accepts a password."""

    @accounts.command("create")
    def accounts_create(
        name: str = typer.Argument(..., help="Display name of the account"),
        email: str | None = typer.Option(None, help="Sign-in email (unique)"),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read a dashboard sign-in password from stdin (needs --email)"
        ),
    ) -> None:
        """Create an account and print its id."""
        password = _read_password() if password_stdin else None
        account = _run(lambda svc: OperatorService(svc).create_account(name, email=email, password=password))
        _note(f"Created account {account.name!r} with balance {format_usd(0)}.")
        typer.echo(account.id)

    @accounts.command("set-email")
    def accounts_set_email(
        account: str = typer.Argument(..., help="Account id (acct_…)"),
        email: str = typer.Argument(..., help="Sign-in email (unique; stored lowercased)"),
    ) -> None:
        """Set or change an account's sign-in email (its sessions stay signed in)."""
        updated = _run(lambda svc: svc.set_email(account, email))
        typer.echo(f"Email of {updated.id} is now {updated.email}.")

    @accounts.command("set-password")
    def accounts_set_password(
        account: str = typer.Argument(..., help="Account id (acct_…)"),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the new password from stdin (required)"
        ),
    ) -> None:
        """Set an account's dashboard password (signs out its sessions)."""
        if not password_stdin:
            _fail("pass the new password on stdin with --password-stdin (never as an argument)")
        password = _read_password()
        _run(lambda svc: OperatorService(svc).set_password(account, password))
        typer.echo(f"Password set for {account}; its sessions were signed out.")


def _run(work: Callable[[AccountService], Awaitable[T]], *, migrate_first: bool = True) -> T:
    """Open storage from the settings, run ``work``, close; errors → one stderr line, exit 1."""
    try:
        settings = Settings.load()
        storage = open_storage(settings.database_url)
        _note_new_sqlite_file(settings.database_url)
        return asyncio.run(_with_storage(storage, work, migrate_first))
    except (OpenCompressError, ValueError) as exc:
        _fail(exc.message if isinstance(exc, OpenCompressError) else str(exc))


def _note_new_sqlite_file(url: str) -> None:
    """A mistyped SQLite path would silently start an empty database (SQLite creates the file),
    and ``accounts list`` would answer "No accounts yet." Say so on stderr, naming the path."""
    if urlsplit(url).scheme.lower() != "sqlite":
        return
    path = sqlite_path(url)
    if path != MEMORY and not Path(path).exists():
        typer.echo(
            f"note: no database at {Path(path).resolve()}; creating a new, empty one "
            "(check OPENCOMPRESS_DATABASE_URL if you expected existing data)",
            err=True,
        )


async def _with_storage(
    storage: Storage, work: Callable[[AccountService], Awaitable[T]], migrate_first: bool
) -> T:
    try:
        if migrate_first:
            await storage.migrate()
        return await work(AccountService(storage))
    finally:
        await storage.close()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def _read_password() -> str:
    """The password from stdin (its first line): never an argument, which would land in shell
    history and ``ps`` output."""
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        _fail("no password on stdin")
    return line


def _note(message: str) -> None:
    typer.echo(message, err=True)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _add_row(table: Table, *cells: str) -> None:
    """Cells as plain :class:`~rich.text.Text`: names, key labels and model strings come from
    account users and API clients, so rich must not read them as markup (``[/]`` raised
    ``MarkupError`` and ``[link=…]`` made a hyperlink); ``Text`` also drops control codes."""
    table.add_row(*(Text(cell) for cell in cells))


def _print_table(table: Table, *, empty: str | None) -> None:
    if empty is not None:
        typer.echo(empty)
        return
    # Not a terminal (a pipe, a test): use a wide fixed width so ids are never wrapped or cut.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)
