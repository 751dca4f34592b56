"""Reliability test helpers: raw HTTP/SSE answers, database seeding/reading, gateway processes.

In-process gateways (``support.gateway.running_gateway``) cover faults and fuzzing; the shutdown,
crash and multi-replica tests need separate processes, which :class:`GatewayProcess` starts from the
installed console script with settings in environment variables — exactly how an operator runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from opencompress.accounts.service import AccountService
from opencompress.storage import open_storage
from support.server import free_port

OPENCOMPRESS = Path(sys.executable).with_name("opencompress")
MESSAGES = [{"role": "user", "content": "Summarise the benefits of unit tests in two sentences."}]


@dataclass
class Seeded:
    account_id: str
    key_id: str
    key: str


def run_db(database_url: str, fn: Any) -> Any:
    """``await fn(service, storage)`` on a fresh connection to ``database_url``."""

    async def go() -> Any:
        storage = open_storage(database_url)
        try:
            await storage.migrate()
            return await fn(AccountService(storage), storage)
        finally:
            await storage.close()

    return asyncio.run(go())


def seed(
    database_url: str, *, usd: str = "5.00", rpm: int | None = None, concurrency: int | None = None
) -> Seeded:
    async def go(service: AccountService, storage: Any) -> Seeded:
        account = await service.create_account("reliability")
        if usd != "0":
            await service.credit(account.id, usd, "test seed")
        key, full = await service.create_key(
            account.id, name="rel", mode="router", rpm_limit=rpm, concurrency_limit=concurrency
        )
        return Seeded(account_id=account.id, key_id=key.id, key=full)

    result: Seeded = run_db(database_url, go)
    return result


def balance(database_url: str, account_id: str) -> int:
    async def go(service: AccountService, storage: Any) -> int:
        account = await storage.get_account(account_id)
        assert account is not None
        return int(account.balance_micros)

    result: int = run_db(database_url, go)
    return result


def usage_rows(database_url: str, account_id: str) -> list[Any]:
    async def go(service: AccountService, storage: Any) -> list[Any]:
        return list(await storage.list_usage(account_id, limit=10_000))

    result: list[Any] = run_db(database_url, go)
    return result


def chat_body(
    *, stream: bool = False, simulate: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": stream, **extra}
    if simulate is not None:
        body["simulate"] = simulate
    return body


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    text: str

    @property
    def request_id(self) -> str:
        return self.headers["x-request-id"]

    @property
    def events(self) -> list[str]:
        """SSE ``data:`` payloads in order (``[DONE]`` included)."""
        out = []
        for block in self.text.split("\n\n"):
            for line in block.splitlines():
                if line.startswith("data: "):
                    out.append(line[6:])
        return out

    @property
    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.events if e != "[DONE]"]

    @property
    def error_events(self) -> list[dict[str, Any]]:
        return [c for c in self.chunks if "error" in c]

    def delivered_text(self) -> str:
        """Content and tool-argument deltas the client received."""
        parts: list[str] = []
        for chunk in self.chunks:
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    parts.append(delta["content"])
                for call in delta.get("tool_calls") or ():
                    fn = call.get("function") or {}
                    parts.extend(v for v in (fn.get("name"), fn.get("arguments")) if isinstance(v, str))
        return "".join(parts)

    def json(self) -> Any:
        return json.loads(self.text)


def post_chat(base_url: str, key: str, body: Any, *, timeout: float = 30.0) -> Answer:
    """POST a chat body (streams read to the end) and return status, headers and the raw text."""
    with httpx.Client(timeout=timeout) as client:
        with client.stream(
            "POST", base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as r:
            text = r.read().decode()
            return Answer(r.status_code, r.headers, text)


async def apost_chat(client: httpx.AsyncClient, base_url: str, key: str, body: Any) -> Answer:
    async with client.stream(
        "POST", base_url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        text = (await r.aread()).decode()
        return Answer(r.status_code, r.headers, text)


class GatewayProcess:
    """``opencompress serve`` as a child process with its own port, settings from the environment."""

    def __init__(self, log_dir: Path, *, name: str = "gw", port: int | None = None, **settings: Any) -> None:
        self.port = port or free_port()
        self.name = name
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "OPENCOMPRESS_HOST": "127.0.0.1",
            "OPENCOMPRESS_PORT": str(self.port),
            "OPENCOMPRESS_DEV_MODE": "false",
            "OPENCOMPRESS_CONFIG": str(log_dir / "absent.toml"),
            "OPENCOMPRESS_SECRET_KEY_FILE": str(log_dir / "secret.key"),
        }
        for field, value in settings.items():
            self.env["OPENCOMPRESS_" + field.upper()] = str(value)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def start(self, timeout_s: float = 30.0) -> GatewayProcess:
        return self.launch().wait_ready(timeout_s)

    def launch(self) -> GatewayProcess:
        """Start the process without waiting (start several, then :meth:`wait_ready` each)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(OPENCOMPRESS), "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout_s: float = 30.0) -> GatewayProcess:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in {timeout_s}s:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL if it hangs (a test failure path, never the normal one)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()
