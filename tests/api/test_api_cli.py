"""CLI: accounts with a dashboard password (read from stdin, never an argument) and set-password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from opencompress.accounts.sessions import SessionService
from opencompress.cli import admin
from opencompress.errors import AuthError
from opencompress.storage import open_storage


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'cli.db'}"
        self.env = {
            "OPENCOMPRESS_DATABASE_URL": self.url,
            "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
        }
        self.app = typer.Typer()
        admin.register(self.app)

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        result = CliRunner().invoke(self.app, list(args), env=self.env, input=stdin)
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def sign_in(url: str, email: str, password: str) -> str:
    async def go() -> str:
        storage = open_storage(url)
        try:
            return (await SessionService(storage, ttl_s=60).sign_in(email, password)).account.id
        finally:
            await storage.close()

    return asyncio.run(go())


def test_create_with_password_from_stdin_then_change_it(run: Cli) -> None:
    created = run(
        "accounts", "create", "acme", "--email", "a@acme.test", "--password-stdin", stdin="first-pass-1\n"
    )
    assert created.exit_code == 0 and "first-pass-1" not in created.output
    account_id = created.stdout.strip()
    assert sign_in(run.url, "a@acme.test", "first-pass-1") == account_id
    changed = run("accounts", "set-password", account_id, "--password-stdin", stdin="second-pass-2\n")
    assert changed.exit_code == 0 and "second-pass-2" not in changed.output
    assert sign_in(run.url, "a@acme.test", "second-pass-2") == account_id
    with pytest.raises(AuthError):
        sign_in(run.url, "a@acme.test", "first-pass-1")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("accounts", "create", "x", "--password-stdin"), "long-enough-1\n", "needs an email"),
        (("accounts", "create", "x", "--email", "x@y.test", "--password-stdin"), "short\n", "at least 8"),
        (("accounts", "create", "x", "--email", "x@y.test", "--password-stdin"), "", "no password on stdin"),
        (("accounts", "set-password", "acct_missing", "--password-stdin"), "long-enough-1\n", "not found"),
        (("accounts", "set-password", "acct_missing"), None, "--password-stdin"),
    ],
)
def test_password_errors_are_one_line(
    run: Cli, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    result = run(*args, stdin=stdin)
    errors = [line for line in result.stderr.splitlines() if not line.startswith("note: no database at")]
    assert result.exit_code == 1 and len(errors) == 1 and errors[0].startswith("error: ")
    assert message in errors[0]
    assert result.stdout == "" and (stdin is None or not stdin.strip() or stdin.strip() not in result.output)
    assert run("accounts", "list").stdout.strip() == "No accounts yet."  # nothing half-made
