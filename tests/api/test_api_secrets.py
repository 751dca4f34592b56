"""No secret in logs or output: password, session token, CSRF token, sk-occ key, BYOK provider key,
admin token — neither in the gateway's log records nor in what ``opencompress serve`` prints."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.gateway import ADMIN_TOKEN, OWNER_PASSWORD, Gateway
from support.server import free_port

PROVIDER_KEY = "sk-provider-LOGCHECK-93c1b7e2"
CLIENT_LOGGERS = {"httpx", "httpcore", "openai"}
MESSAGES: Any = [{"role": "user", "content": "say something"}]


def _exercise(base: str, admin_token: str, upstream: str, email: str) -> list[str]:
    """Sign-in, BYOK key creation and BYOK requests (plain, streamed, failed); returns the secrets
    that went over the wire."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        created = c.post(
            "/admin/accounts",
            headers=admin,
            json={"name": "logs", "email": email, "password": OWNER_PASSWORD, "initial_credit_usd": "1"},
        )
        assert created.status_code == 201, created.text
        assert (
            c.post("/auth/login", json={"email": email, "password": "wrong-" + OWNER_PASSWORD}).status_code
            == 401
        )
        login = c.post("/auth/login", json={"email": email, "password": OWNER_PASSWORD})
        session_token, csrf = c.cookies["oc_session"], login.json()["csrfToken"]
        key = c.post(
            "/api/keys",
            headers={"X-CSRF-Token": csrf},
            json={
                "name": "byok",
                "mode": "byok",
                "upstreamBaseUrl": upstream,
                "upstreamApiKey": PROVIDER_KEY,
            },
        ).json()["fullKey"]
        bad_csrf = c.post("/api/keys", headers={"X-CSRF-Token": "wrong"}, json={"name": "x"})
        assert bad_csrf.status_code == 403
        auth = {"Authorization": f"Bearer {key}"}
        body = {"model": "gpt-4o-mini", "messages": MESSAGES}
        assert c.post("/v1/chat/completions", headers=auth, json=body).status_code == 200
        assert c.post("/v1/chat/completions", headers=auth, json={**body, "stream": True}).status_code == 200
        failed = c.post(
            "/v1/chat/completions", headers={**auth, "x-upstream-key": "sk-x"}, json={**body, "n": "x"}
        )
        assert failed.status_code in (200, 400)
        assert c.get("/api/keys", headers=auth).status_code == 403  # an sk-occ key on the console
        assert c.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    return [OWNER_PASSWORD, session_token, csrf, key, key.removeprefix("sk-occ-"), PROVIDER_KEY, admin_token]


def test_log_records_hold_no_secret(console: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = _exercise(console.server.url, ADMIN_TOKEN, console.sim_url + "/v1", "logs@example.com")
    # The test's own HTTP client logs the headers it receives (Set-Cookie included): not the gateway.
    records = [r for r in caplog.records if r.name.split(".")[0] not in CLIENT_LOGGERS]
    assert any(r.name.startswith("opencompress") for r in records), "nothing logged: the check would be empty"
    text = "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in records)
    for secret in secrets:
        assert secret not in text


def test_serve_prints_only_the_demo_key(simulator: Any, tmp_path: Path) -> None:
    port = free_port()
    secret_key = "q" * 43 + "="  # base64 of 32 bytes
    env = {
        **os.environ,
        "OPENCOMPRESS_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "OPENCOMPRESS_CONFIG": str(tmp_path / "absent.toml"),
        "OPENCOMPRESS_ADMIN_TOKEN": "serve-admin-token-7d1f0a9c",
        "OPENCOMPRESS_UPSTREAM_BASE_URL": simulator.base_url,
        "OPENCOMPRESS_UPSTREAM_API_KEY": "sk-operator-upstream-55e0c1",
        "OPENCOMPRESS_SECRET_KEY": secret_key,
        "OPENCOMPRESS_ALLOW_PRIVATE_UPSTREAMS": "true",
        "OPENCOMPRESS_LOG_LEVEL": "debug",
        "OPENCOMPRESS_DEV_MODE": "true",
    }
    cmd = [sys.executable, "-c", "from opencompress.cli import app; app()", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        upstream = simulator.base_url.rstrip("/")
        secrets = _exercise(base, env["OPENCOMPRESS_ADMIN_TOKEN"], upstream, "serve@example.com")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    printed = out + err
    demo_keys = [word for word in printed.split() if word.startswith("sk-occ-")]
    assert len(demo_keys) == 1, "the demo key is printed exactly once"
    for secret in [*secrets, env["OPENCOMPRESS_UPSTREAM_API_KEY"], secret_key, secret_key.rstrip("=")]:
        assert secret not in printed
    assert any(json.loads(line).get("level") for line in err.splitlines() if line.startswith("{"))
