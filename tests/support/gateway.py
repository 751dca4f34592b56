"""A real gateway (uvicorn on loopback) wired to a real upstream simulator, plus seeding helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from opencompress.accounts.service import AccountService
from opencompress.config import Settings
from opencompress.http.app import create_app
from opencompress.storage import open_storage
from support.server import ServerThread

ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef"
"""Pass ``admin_token=ADMIN_TOKEN`` to :func:`running_gateway` to enable the operator endpoints."""


OWNER_PASSWORD = "correct-horse-battery"


@dataclass
class Owner:
    """An account that signed in: ``client`` holds the session cookie and sends X-CSRF-Token."""

    account_id: str
    email: str
    client: httpx.Client


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    """The OpenAI-style error object of ``r``, after checking the status and the body's shape."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
    assert "Traceback" not in r.text
    return dict(body["error"])


@dataclass
class Seeded:
    account_id: str
    key_id: str
    key: str


class Gateway:
    def __init__(self, server: ServerThread, settings: Settings, sim_url: str, app: Any) -> None:
        self.app = app
        self.server = server
        self.settings = settings
        self.sim_url = sim_url

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    def settled(self, timeout_s: float = 10.0) -> None:
        """Wait until the gateway has no background work left (settles run after the answer).

        A client holds its answer a moment before the charge commits, as with a real gateway;
        reading the database from the test thread must wait for that moment, not race it."""
        deadline = time.monotonic() + timeout_s
        while len(self.app.state.ctx.background) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert not len(self.app.state.ctx.background), "background work did not finish"

    def run(self, coro_fn: Any) -> Any:
        """Run ``await coro_fn(service, storage)`` against the gateway's database from the test
        thread, once the charges of answered requests have landed."""
        self.settled()

        async def go() -> Any:
            storage = open_storage(self.settings.database_url)
            try:
                return await coro_fn(AccountService(storage), storage)
            finally:
                await storage.close()

        return asyncio.run(go())

    def seed(
        self,
        *,
        usd: str = "5.00",
        mode: str = "router",
        rpm: int | None = None,
        concurrency: int | None = None,
        name: str = "test",
    ) -> Seeded:
        async def go(service: AccountService, storage: Any) -> Seeded:
            account = await service.create_account(name)
            if usd and usd != "0":
                await service.credit(account.id, usd, "test seed")
            key, full = await service.create_key(
                account.id, name=name, mode=mode, rpm_limit=rpm, concurrency_limit=concurrency
            )
            return Seeded(account_id=account.id, key_id=key.id, key=full)

        result: Seeded = self.run(go)
        return result

    def client(self, key: str, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, **kwargs)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, timeout=30)

    def balance(self, account_id: str) -> int:
        async def go(service: AccountService, storage: Any) -> int:
            account = await storage.get_account(account_id)
            assert account is not None
            return int(account.balance_micros)

        result: int = self.run(go)
        return result

    def usage(self, account_id: str, limit: int = 500) -> list[Any]:
        async def go(service: AccountService, storage: Any) -> list[Any]:
            return list(await storage.list_usage(account_id, limit=limit))

        result: list[Any] = self.run(go)
        return result

    def admin(self) -> httpx.Client:
        """An HTTP client authorised as the operator (the gateway must run with an admin token)."""
        return httpx.Client(
            base_url=self.server.url,
            timeout=30,
            headers={"Authorization": f"Bearer {self.settings.admin_token}"},
        )

    def create_owner(self, *, email: str, password: str, usd: str = "5.00", name: str = "owner") -> str:
        """Create an account that can sign in (through ``POST /admin/accounts``); returns its id."""
        with self.admin() as admin:
            r = admin.post(
                "/admin/accounts",
                json={"name": name, "email": email, "password": password, "initial_credit_usd": usd},
            )
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

    def sign_in(self, email: str, password: str) -> httpx.Client:
        """An HTTP client holding a session cookie and sending its CSRF token on every request."""
        with httpx.Client(base_url=self.server.url, timeout=30) as login:
            r = login.post("/auth/login", json={"email": email, "password": password})
            assert r.status_code == 200, r.text
            cookies = login.cookies
        return httpx.Client(
            base_url=self.server.url,
            timeout=30,
            cookies=cookies,
            headers={"X-CSRF-Token": r.json()["csrfToken"]},
        )

    def sim_requests(self) -> list[dict[str, Any]]:
        with httpx.Client(timeout=10) as c:
            data = c.get(self.sim_url + "/_sim/requests").json()
        return list(data["requests"] if isinstance(data, dict) else data)


@contextmanager
def running_gateway(tmp: Path, sim_base_url: str, **overrides: Any) -> Iterator[Gateway]:
    tmp.mkdir(parents=True, exist_ok=True)
    defaults: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'gateway.db'}",
        "upstream_base_url": sim_base_url,
        "upstream_api_key": "sk-upstream-test",
        "dev_mode": False,
        "secret_key_file": str(tmp / "secret.key"),
    }
    settings = Settings.load(env={}).replace(**{**defaults, **overrides})
    app = create_app(settings)
    with ServerThread(app) as server:
        yield Gateway(server, settings, sim_base_url.removesuffix("/v1"), app)
