"""Operator CLI end to end on a SQLite file: scripts can capture ids and keys, errors are one line."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import pytest
import typer
from typer.testing import CliRunner, Result

from opencompress.accounts import AccountService
from opencompress.cli import admin
from opencompress.errors import AuthError
from opencompress.storage import UsageRecord, open_storage
from opencompress.storage.migrate import load_migrations
from support.records import usage_for


class Cli(Protocol):
    def __call__(self, *args: str, ok: bool = ...) -> Result: ...


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
    }


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    app = typer.Typer()
    admin.register(app)
    runner = CliRunner()

    def call(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args), env=env)
        assert "Traceback" not in result.output
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
            assert result.stderr.splitlines()[-1].startswith("error: ") and result.stdout == ""
        return result

    return call


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_migrate_reports_what_it_applied(cli: Cli) -> None:
    history = [m.name for m in load_migrations("sqlite")]
    assert cli("migrate").stdout.splitlines() == [f"applied {name}" for name in history]
    assert cli("migrate").stdout.strip() == "Database is up to date."


def test_account_key_credit_lifecycle(cli: Cli, env: dict[str, str]) -> None:
    account_id = cli("accounts", "create", "acme", "--email", "ops@acme.test").stdout.strip()
    assert account_id.startswith("acct_") and "\n" not in account_id
    listed = cli("accounts", "list").stdout
    assert account_id in listed and "ops@acme.test" in listed and "$0.000000" in listed

    credited = cli("credit", "--account", account_id, "--usd", "10.00", "--reason", "invoice 1")
    assert "$10.000000" in credited.stdout

    created = cli("keys", "create", "--account", account_id, "--name", "ci", "--mode", "byok", "--rpm", "5")
    full_key = last_line(created)
    assert full_key.startswith("sk-occ-") and len(full_key) == 50
    assert "shown" in created.stderr

    keys = cli("keys", "list", "--account", account_id).stdout
    assert full_key[:15] in keys and full_key not in keys and "byok" in keys and "never" in keys

    async def check(expect_active: bool) -> str:
        storage = open_storage(env["OPENCOMPRESS_DATABASE_URL"])
        try:
            svc = AccountService(storage)
            account = await svc.get_account(account_id)
            assert account.balance_micros == 10_000_000
            if expect_active:
                key = await svc.authenticate(full_key)
                assert (key.mode, key.rpm_limit, key.name) == ("byok", 5, "ci")
                return key.id
            with pytest.raises(AuthError):
                await svc.authenticate(full_key)
            return ""
        finally:
            await storage.close()

    key_id = asyncio.run(check(expect_active=True))
    assert key_id in keys
    assert cli("keys", "revoke", key_id).stdout.startswith(f"Revoked {key_id}")
    assert "was already revoked" in cli("keys", "revoke", key_id).stdout
    asyncio.run(check(expect_active=False))
    assert "revoked" in cli("keys", "list", "--account", account_id).stdout


def test_usage_table(cli: Cli, env: dict[str, str]) -> None:
    account_id = cli("accounts", "create", "acme").stdout.strip()
    assert cli("usage", "--account", account_id).stdout.strip() == "No requests yet."
    full_key = last_line(cli("keys", "create", "--account", account_id))
    cli("credit", "--account", account_id, "--usd", "1")

    async def record() -> None:
        storage = open_storage(env["OPENCOMPRESS_DATABASE_URL"])
        try:
            key = await AccountService(storage).authenticate(full_key)
            for i in range(3):
                await storage.settle(
                    UsageRecord(
                        request_id=f"gen-test{i}",
                        account_id=account_id,
                        key_id=key.id,
                        model="gpt-4o",
                        mode="router",
                        original_input_tokens=1000,
                        compressed_input_tokens=600,
                        output_tokens=50,
                        original_cost_micros=3000,
                        actual_cost_micros=2000,
                        savings_micros=1000,
                        fee_micros=200,
                        charge_micros=2200,
                        compression_ms=1.0,
                        ttfb_ms=10.0,
                        total_ms=42.0,
                        status="ok",
                        created_at=1_750_000_000.0 + i,
                    )
                )
        finally:
            await storage.close()

    asyncio.run(record())
    table = cli("usage", "--account", account_id, "--limit", "2").stdout
    assert "gen-test2" in table and "gen-test1" in table and "gen-test0" not in table
    assert table.index("gen-test2") < table.index("gen-test1")  # newest first
    assert "1000→600" in table and "$0.002200" in table


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--account", "acct_missing"),
        ("keys", "list", "--account", "acct_missing"),
        ("keys", "revoke", "key_missing"),
        ("credit", "--account", "acct_missing", "--usd", "1"),
        ("usage", "--account", "acct_missing"),
        ("accounts", "set-email", "acct_missing", "a@b.test"),
    ],
)
def test_unknown_ids_fail_cleanly(cli: Cli, args: tuple[str, ...]) -> None:
    assert "not found" in cli(*args, ok=False).stderr


def test_bad_input_fails_cleanly(cli: Cli) -> None:
    account_id = cli("accounts", "create", "acme", "--email", "a@b.test").stdout.strip()
    assert "already exists" in cli("accounts", "create", "again", "--email", "a@b.test", ok=False).stderr
    assert "invalid amount" in cli("credit", "--account", account_id, "--usd", "ten", ok=False).stderr
    assert "mode" in cli("keys", "create", "--account", account_id, "--mode", "free", ok=False).stderr
    assert "rpm_limit" in cli("keys", "create", "--account", account_id, "--rpm", "0", ok=False).stderr
    other_id = cli("accounts", "create", "other").stdout.strip()
    assert "already exists" in cli("accounts", "set-email", other_id, "A@B.test", ok=False).stderr
    assert "name@domain" in cli("accounts", "set-email", other_id, "no-at-sign", ok=False).stderr


def test_set_email_on_an_account_made_without_email(cli: Cli, env: dict[str, str]) -> None:
    account_id = cli("accounts", "create", "alice").stdout.strip()
    done = cli("accounts", "set-email", account_id, " Alice@Example.COM ")
    assert done.stdout.strip() == f"Email of {account_id} is now alice@example.com."
    assert "alice@example.com" in cli("accounts", "list").stdout

    async def accounts() -> list[tuple[str, str | None]]:
        storage = open_storage(env["OPENCOMPRESS_DATABASE_URL"])
        try:
            return [(a.id, a.email) for a in await AccountService(storage).list_accounts()]
        finally:
            await storage.close()

    assert asyncio.run(accounts()) == [(account_id, "alice@example.com")]


def test_unreachable_database_is_reported_clearly(env: dict[str, str]) -> None:
    app = typer.Typer()
    admin.register(app)
    result = CliRunner().invoke(
        app, ["migrate"], env={**env, "OPENCOMPRESS_DATABASE_URL": "postgresql://x/y"}
    )
    assert result.exit_code == 1
    assert "database unavailable" in result.stderr and "Traceback" not in result.output


def test_a_new_database_file_is_announced_once(cli: Cli, env: dict[str, str]) -> None:
    """A mistyped path must not pass for an empty but real database."""
    first = cli("accounts", "list")
    path = env["OPENCOMPRESS_DATABASE_URL"].removeprefix("sqlite:///")
    assert first.stderr.startswith(f"note: no database at {Path(path).resolve()}; creating a new")
    assert "note:" not in cli("accounts", "list").stderr


def test_tables_print_user_supplied_text_literally(cli: Cli, env: dict[str, str]) -> None:
    """Account users name keys (dashboard) and clients name models: rich must not read them as
    markup. ``[/]`` used to crash ``keys list`` and ``usage`` with a MarkupError traceback."""
    env["COLUMNS"] = "250"  # one line per row, so the literal cells are whole in the output
    account_id = cli("accounts", "create", "[/]").stdout.strip()
    full_key = last_line(cli("keys", "create", "--account", account_id, "--name", "[red]k[/red]"))

    async def record() -> None:
        storage = open_storage(env["OPENCOMPRESS_DATABASE_URL"])
        try:
            key = await AccountService(storage).authenticate(full_key)
            await storage.settle(
                usage_for(key, "gen-markup", 0, model="[link=https://example.invalid]gpt[/link]")
            )
        finally:
            await storage.close()

    asyncio.run(record())
    assert "[/]" in cli("accounts", "list").stdout
    assert "[red]k[/red]" in cli("keys", "list", "--account", account_id).stdout
    assert "[link=https://example.invalid]gpt[/link]" in cli("usage", "--account", account_id).stdout
