"""``OPENCOMPRESS_COOKIE_SECURE``: whether the session and sign-in-form cookies carry ``Secure``.

``auto`` (the default) marks them Secure when the request came over https as the server sees it;
``true`` always does, for a TLS-terminating proxy whose ``X-Forwarded-Proto`` the server does not
trust (a proxy on another host), and ``false`` never does. Every cookie the gateway sets follows the
one setting: the sign-in cookie from ``POST /auth/login`` and from the dashboard's form, the
re-sent cookie of a renewed session, and the login form's CSRF cookie.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from opencompress.accounts.sessions import hash_session_token
from opencompress.config import Settings
from opencompress.http.app import create_app
from opencompress.storage import open_storage
from support.owners import seed_owner

EMAIL, PASSWORD = "owner@example.com", "s3cret-passw0rd"
NO_FILE = "/nonexistent/opencompress.toml"


def load(**env: str) -> Settings:
    return Settings.load(env=env, config_file=NO_FILE)


def test_cookie_secure_defaults_to_auto_and_accepts_true_and_false(tmp_path: Path) -> None:
    assert load().cookie_secure == "auto"
    assert load(OPENCOMPRESS_COOKIE_SECURE=" TRUE ").cookie_secure == "true"
    assert load(OPENCOMPRESS_COOKIE_SECURE="false").cookie_secure == "false"
    toml = tmp_path / "opencompress.toml"
    toml.write_text("cookie_secure = true\n")  # a TOML boolean reads as the word
    assert Settings.load(env={}, config_file=str(toml)).cookie_secure == "true"


@pytest.mark.parametrize("bad", ["maybe", "yes", "1", ""])
def test_a_bad_cookie_secure_value_is_refused_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match="OPENCOMPRESS_COOKIE_SECURE") as err:
        load(OPENCOMPRESS_COOKIE_SECURE=bad)
    assert "auto" in str(err.value)


def test_serve_stops_with_one_error_line_on_a_bad_cookie_secure(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "OPENCOMPRESS_PORT": "1",  # never bound: the process must stop before it listens
        "OPENCOMPRESS_COOKIE_SECURE": "sometimes",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from opencompress.cli import app; app()", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "OPENCOMPRESS_COOKIE_SECURE" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "never.db").exists()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database with an owner who can sign in (a real argon2 hash)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cookies') / 'gw.db'}"

    seed_owner(url, email=EMAIL, password=PASSWORD)
    return url


@pytest.fixture
def gateway(database: str, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """A gateway with ``cookie_secure`` and the URL scheme the test asks for (``(setting, scheme)``)."""
    setting, scheme = request.param
    settings = load().replace(
        database_url=database,
        dev_mode=False,
        upstream_base_url="http://127.0.0.1:9/v1",
        cookie_secure=setting,
    )
    with TestClient(create_app(settings), base_url=f"{scheme}://testserver") as client:
        yield client


def set_cookie(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def is_secure(cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in cookie.split(";")]


CASES = [
    pytest.param(("auto", "http"), False, id="auto-http"),
    pytest.param(("auto", "https"), True, id="auto-https"),
    pytest.param(("true", "http"), True, id="true-behind-a-tls-proxy"),
    pytest.param(("false", "https"), False, id="false-https"),
]


@pytest.mark.parametrize(("gateway", "secure"), CASES, indirect=["gateway"])
def test_every_cookie_follows_cookie_secure(gateway: TestClient, secure: bool) -> None:
    login = gateway.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200, login.text
    session = set_cookie(login, "oc_session")
    assert is_secure(session) is secure and "HttpOnly" in session
    token = session.split(";", 1)[0].split("=", 1)[1]
    gateway.cookies.clear()  # signed out again, or /login would send us to the dashboard

    form = gateway.get("/login")
    assert form.status_code == 200
    assert is_secure(set_cookie(form, "oc_login_csrf")) is secure

    async def age() -> None:  # three quarters through its life: the next use renews it
        storage = open_storage(str(gateway.app.state.ctx.settings.database_url))  # type: ignore[attr-defined]
        try:
            ttl = gateway.app.state.ctx.settings.session_ttl_s  # type: ignore[attr-defined]
            assert await storage.extend_session(hash_session_token(token), time.time() + ttl / 4)
        finally:
            await storage.close()

    asyncio.run(age())
    renewed = gateway.get("/api/me", headers={"cookie": f"oc_session={token}"})
    assert renewed.status_code == 200
    assert is_secure(set_cookie(renewed, "oc_session")) is secure


@pytest.mark.parametrize(("gateway", "secure"), CASES[1:3], indirect=["gateway"])
def test_the_dashboard_sign_in_form_follows_cookie_secure(gateway: TestClient, secure: bool) -> None:
    form = gateway.get("/login")
    csrf = set_cookie(form, "oc_login_csrf").split(";", 1)[0].split("=", 1)[1]
    signed_in = gateway.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf},
        headers={"cookie": f"oc_login_csrf={csrf}"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    assert is_secure(set_cookie(signed_in, "oc_session")) is secure


def test_the_session_cookie_does_not_outlive_the_sessions_absolute_lifetime(database: str) -> None:
    """``OPENCOMPRESS_SESSION_MAX_LIFETIME_S`` reaches the app's session service and the cookie."""
    settings = load().replace(
        database_url=database,
        dev_mode=False,
        upstream_base_url="http://127.0.0.1:9/v1",
        session_max_lifetime_s=100,
    )
    with TestClient(create_app(settings)) as gateway:
        login = gateway.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200
    assert "max-age=100" in set_cookie(login, "oc_session").lower()
