"""Giving an existing account a sign-in email (``accounts set-email``, ``POST /admin/accounts/{id}/email``),
so accounts made without one (``accounts create NAME``, the dev-mode demo account) can sign in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from opencompress.cli import admin
from support.gateway import OWNER_PASSWORD, Gateway, Owner, error_of


def cli(gw: Gateway, tmp_path: Path, *args: str, stdin: str | None = None) -> Result:
    """The operator CLI on the running gateway's own database."""
    app = typer.Typer()
    admin.register(app)
    env = {
        "OPENCOMPRESS_DATABASE_URL": gw.settings.database_url,
        "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
    }
    result = CliRunner().invoke(app, list(args), env=env, input=stdin)
    assert "Traceback" not in result.output
    return result


def accounts(gw: Gateway) -> dict[str, dict[str, Any]]:
    with gw.admin() as c:
        return {a["id"]: a for a in c.get("/admin/accounts").json()["data"]}


def test_cli_account_without_email_gets_one_then_a_password_and_signs_in(
    console: Gateway, tmp_path: Path
) -> None:
    created = cli(console, tmp_path, "accounts", "create", "alice")
    assert created.exit_code == 0, created.output
    account_id = created.stdout.strip()
    refused = cli(
        console, tmp_path, "accounts", "set-password", account_id, "--password-stdin", stdin="pw-alice-123\n"
    )
    assert refused.exit_code == 1 and "set an email" in refused.stderr

    set_email = cli(console, tmp_path, "accounts", "set-email", account_id, " Alice.CLI@Example.com ")
    assert set_email.exit_code == 0, set_email.output
    assert set_email.stdout.strip() == f"Email of {account_id} is now alice.cli@example.com."
    assert accounts(console)[account_id]["email"] == "alice.cli@example.com"
    password = cli(
        console, tmp_path, "accounts", "set-password", account_id, "--password-stdin", stdin="pw-alice-123\n"
    )
    assert password.exit_code == 0, password.output

    with console.sign_in("ALICE.cli@example.com", "pw-alice-123") as client:
        me = client.get("/api/me").json()
        assert (me["account"]["id"], me["account"]["email"], me["via"]) == (
            account_id,
            "alice.cli@example.com",
            "session",
        )


def test_cli_set_email_errors(console: Gateway, tmp_path: Path) -> None:
    console.create_owner(email="cli-taken@example.com", password=OWNER_PASSWORD)
    account_id = cli(console, tmp_path, "accounts", "create", "bob").stdout.strip()
    for email, message in (
        ("CLI-Taken@example.com", "an account with this email already exists"),
        ("no-at-sign", "email must look like name@domain"),
    ):
        result = cli(console, tmp_path, "accounts", "set-email", account_id, email)
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    missing = cli(console, tmp_path, "accounts", "set-email", "acct_missing", "free@example.com")
    assert missing.exit_code == 1 and "not found" in missing.stderr
    assert accounts(console)[account_id]["email"] is None


def test_admin_api_sets_email_then_password_and_the_owner_signs_in(console: Gateway) -> None:
    with console.admin() as c:
        account = c.post("/admin/accounts", json={"name": "api-bare"}).json()
        assert account["email"] is None
        r = c.post(f"/admin/accounts/{account['id']}/email", json={"email": " API.Owner@Example.com "})
        assert r.status_code == 200, r.text
        assert r.json() == {**account, "email": "api.owner@example.com"}
        assert accounts(console)[account["id"]] == r.json()
        again = c.post(f"/admin/accounts/{account['id']}/email", json={"email": "api.owner@example.com"})
        assert again.status_code == 200 and again.json() == r.json()  # its own email: no conflict
        pw = c.post(f"/admin/accounts/{account['id']}/password", json={"password": OWNER_PASSWORD})
        assert pw.status_code == 204, pw.text
    with console.sign_in("api.owner@example.com", OWNER_PASSWORD) as client:
        assert client.get("/api/me").json()["account"]["id"] == account["id"]


def test_taken_email_is_409_and_changes_nothing(console: Gateway) -> None:
    first = console.create_owner(email="first-409@example.com", password=OWNER_PASSWORD)
    with console.admin() as c:
        second = c.post("/admin/accounts", json={"name": "second", "email": "second-409@example.com"}).json()
        r = c.post(f"/admin/accounts/{second['id']}/email", json={"email": "FIRST-409@example.com"})
        err = error_of(r, 409)
        assert (err["type"], err["code"]) == ("conflict_error", "email_taken")
    listed = accounts(console)
    assert listed[second["id"]]["email"] == "second-409@example.com"
    assert listed[first]["email"] == "first-409@example.com"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "email"),
        ({"email": None}, "email"),
        ({"email": ""}, "email"),
        ({"email": "   "}, "email"),
        ({"email": "no-at-sign"}, "email"),
        ({"email": 5}, "email"),
        ({"email": "ok@example.com", "name": "x"}, "name"),
    ],
)
def test_bad_email_body_is_400_and_changes_nothing(
    console: Gateway, body: dict[str, Any], param: str
) -> None:
    with console.admin() as c:
        account = c.post("/admin/accounts", json={"name": "bad-body"}).json()
        err = error_of(c.post(f"/admin/accounts/{account['id']}/email", json=body), 400)
        assert (err["type"], err["param"]) == ("invalid_request_error", param)
    assert accounts(console)[account["id"]]["email"] is None


def test_unknown_account_is_404(console: Gateway) -> None:
    with console.admin() as c:
        r = c.post("/admin/accounts/acct_missing/email", json={"email": "nobody-404@example.com"})
        assert error_of(r, 404)["type"] == "not_found_error"
        assert error_of(c.get("/admin/accounts/acct_missing/email"), 405)["code"] == "method_not_allowed"


def test_sessions_cannot_change_emails_and_keep_acting_as_their_own_account(
    console: Gateway, owner: Owner
) -> None:
    """A signed-in owner (cookie + CSRF token) is refused on the operator endpoint; after the
    operator changes the owner's email, that session still acts for the same account only, and
    only the new email signs in."""
    other = console.create_owner(email="other-session@example.com", password=OWNER_PASSWORD)
    for target in (other, owner.account_id):
        r = owner.client.post(f"/admin/accounts/{target}/email", json={"email": "grab@example.com"})
        assert error_of(r, 403)["code"] == "admin_only"
    assert accounts(console)[other]["email"] == "other-session@example.com"

    with console.admin() as c:
        r = c.post(f"/admin/accounts/{owner.account_id}/email", json={"email": "renamed-owner@example.com"})
        assert r.status_code == 200, r.text
    me = owner.client.get("/api/me").json()["account"]
    assert (me["id"], me["email"]) == (owner.account_id, "renamed-owner@example.com")
    with console.admin() as c:
        c.headers.pop("Authorization")
        old = c.post("/auth/login", json={"email": owner.email, "password": OWNER_PASSWORD})
        assert error_of(old, 401)["code"] == "invalid_credentials"
    with console.sign_in("renamed-owner@example.com", OWNER_PASSWORD) as client:
        assert client.get("/api/me").json()["account"]["id"] == owner.account_id
