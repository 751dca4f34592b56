"""Reliability test helpers: raw HTTP/SSE answers and database seeding/reading.

In-process gateways (``support.gateway.running_gateway``) cover faults and fuzzing; the shutdown,
crash and multi-replica tests need separate processes, which ``support.serve_process.GatewayProcess``
starts from the installed console script with settings in environment variables, exactly how an
operator runs it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import httpx

from opencompress.accounts.service import AccountService
from opencompress.storage import open_storage

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
