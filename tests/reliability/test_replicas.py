"""Two gateway replicas (separate ``opencompress serve`` processes) on one PostgreSQL + one Redis.

What must hold across replicas: rate limits and concurrency slots are global; under a burst every
admitted request is charged exactly once and the ledger matches the balance to the micro-dollar
(also checked on SQLite with one replica); and a replica killed with SIGKILL mid-stream leaves no
duplicated or half-written usage row, while its concurrency slots come back once their Redis lease
runs out. Servers are throwaway processes on loopback (tests/support/services.py): skipped locally
when PostgreSQL or Redis is not installed, failed under CI=true.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_helpers import (
    Answer,
    apost_chat,
    balance,
    chat_body,
    post_chat,
    run_db,
    seed,
    usage_rows,
)

from opencompress.billing.estimate import estimate_hold_micros
from opencompress.billing.prices import PriceTable
from opencompress.config import Settings
from support.serve_process import GatewayProcess

pytestmark = [pytest.mark.timeout(120), pytest.mark.postgres, pytest.mark.redis]
MAX_TOKENS = 16

LEASE_S = 10.0


class Pair:
    def __init__(self, db: str, redis_url: str, a: GatewayProcess, b: GatewayProcess) -> None:
        self.db, self.redis_url, self.a, self.b = db, redis_url, a, b

    @property
    def urls(self) -> list[str]:
        return [self.a.base_url, self.b.base_url]


@pytest.fixture(scope="module")
def pair(
    pg_server: Any, redis_srv: Any, simulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    db = pg_server.create_database("replicas") + "?pool_max_size=20"
    seed(db, usd="0")  # migrate once up front, so the replicas start on a ready schema
    logs = tmp_path_factory.mktemp("replicas")
    settings = {
        "database_url": db,
        "redis_url": redis_srv.url,
        "upstream_base_url": simulator.base_url,
        "ratelimit_lease_s": LEASE_S,  # short, so the kill -9 test can wait out a real lease
    }
    a = GatewayProcess(logs, name="a", **settings).launch()
    b = GatewayProcess(logs, name="b", **settings).launch()
    try:
        a.wait_ready()
        b.wait_ready()
        yield Pair(db, redis_srv.url, a, b)
    finally:
        a.stop()
        b.stop()


class OpenStream:
    """A streaming response being read piece by piece (httpx allows one iterator per response)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._pieces = response.aiter_text()
        self.text = ""

    @classmethod
    async def open(cls, client: httpx.AsyncClient, url: str, key: str, body: dict[str, Any]) -> OpenStream:
        request = client.build_request(
            "POST", url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        stream = cls(await client.send(request, stream=True))
        assert stream.response.status_code == 200
        stream.text += await stream._pieces.__anext__()  # relaying has begun
        return stream

    async def rest(self) -> Answer:
        async for piece in self._pieces:
            self.text += piece
        return Answer(self.response.status_code, self.response.headers, self.text)

    async def close(self) -> None:
        await self._pieces.aclose()
        await self.response.aclose()


async def _burst(urls: list[str], key: str, bodies: list[dict[str, Any]]) -> list[Answer]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(
            *(apost_chat(client, urls[i % len(urls)], key, body) for i, body in enumerate(bodies))
        )


def _wait_rows(db: str, account_id: str, count: int, timeout_s: float = 20) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while len(rows := usage_rows(db, account_id)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return rows


def test_rpm_limit_is_global_across_replicas(pair: Pair) -> None:
    seeded = seed(pair.db, usd="5.00", rpm=60, concurrency=100)
    answers = asyncio.run(_burst(pair.urls, seeded.key, [chat_body(max_tokens=2)] * 90))
    statuses = Counter(a.status for a in answers)
    assert statuses == {200: 60, 429: 30}, statuses
    assert {a.json()["error"]["type"] for a in answers if a.status == 429} == {"rate_limit_error"}
    served_by = Counter(i % 2 for i, a in enumerate(answers) if a.status == 200)
    assert served_by[0] > 0 and served_by[1] > 0, "both replicas served part of the 60"
    assert len(_wait_rows(pair.db, seeded.account_id, 60)) == 60


def test_concurrency_limit_is_global_across_replicas(pair: Pair) -> None:
    seeded = seed(pair.db, usd="5.00", rpm=1000, concurrency=10)
    slow = chat_body(stream=True, max_tokens=40, simulate={"fault": "slow", "delay_s": 0.2})

    async def scenario() -> tuple[list[int], int]:
        async with httpx.AsyncClient(timeout=60) as client:
            # 5 open, relaying streams on each replica
            streams = [await OpenStream.open(client, pair.urls[i % 2], seeded.key, slow) for i in range(10)]
            refused = [(await apost_chat(client, url, seeded.key, chat_body())).status for url in pair.urls]
            for stream in streams:  # clients go away: their slots must come back
                await stream.close()
            deadline = time.monotonic() + 10
            while (status := (await apost_chat(client, pair.urls[0], seeded.key, chat_body())).status) == 429:
                assert time.monotonic() < deadline, "slots never came back after the clients left"
                await asyncio.sleep(0.1)
            return refused, status

    refused, after = asyncio.run(scenario())
    assert refused == [429, 429]
    assert after == 200
    rows = _wait_rows(pair.db, seeded.account_id, 11)
    assert Counter(r.status for r in rows) == {"client_disconnected": 10, "ok": 1}


def _hold_per_request(db: str, urls: list[str], model: str) -> int:
    """What the gateway holds for one request of the burst (estimate from its own counts)."""
    probe = seed(db, usd="1.00")
    answer = post_chat(urls[0], probe.key, chat_body(model=model, max_tokens=MAX_TOKENS))
    assert answer.status == 200, answer.text
    settings = Settings.load(env={})
    return estimate_hold_micros(
        input_tokens=int(answer.headers["x-opencompress-compressed-tokens"]),
        original_input_tokens=int(answer.headers["x-opencompress-original-tokens"]),
        max_output_tokens=MAX_TOKENS,
        price=PriceTable.load(settings).lookup(model),
        mode="router",
        fee_percent=settings.fee_percent,
    )


def check_burst_charges_exactly_once(db: str, urls: list[str]) -> None:
    model = "gpt-4o"
    hold = _hold_per_request(db, urls, model)
    credit = 50 * hold  # covers about 50 of the 200
    seeded = seed(db, usd="0", rpm=10_000, concurrency=1_000)
    run_db(db, lambda service, storage: storage.credit(seeded.account_id, credit, "burst"))
    bodies = [chat_body(model=model, stream=i % 2 == 0, max_tokens=MAX_TOKENS) for i in range(200)]
    answers = asyncio.run(_burst(urls, seeded.key, bodies))

    statuses = Counter(a.status for a in answers)
    assert set(statuses) <= {200, 402}, statuses
    assert 45 <= statuses[200] < 200 and statuses[402] > 0, statuses
    for answer, body in zip(answers, bodies, strict=True):
        if answer.status == 402:
            assert answer.json()["error"]["type"] == "billing_error"
        elif body["stream"]:
            assert answer.events[-1] == "[DONE]"
    served = {a.headers["x-request-id"] for a in answers if a.status == 200}

    rows = _wait_rows(db, seeded.account_id, len(served))
    time.sleep(0.3)  # anything still settling would show up as an extra row
    rows = usage_rows(db, seeded.account_id)
    assert sorted(r.request_id for r in rows) == sorted(served), "each served request: exactly one row"
    assert all(r.status == "ok" for r in rows)
    end = balance(db, seeded.account_id)
    assert end >= 0
    assert sum(r.charged_micros for r in rows) == credit - end
    shortfall = sum(r.charge_micros - r.charged_micros for r in rows)
    assert 0 <= shortfall <= hold, "only the request that met an empty balance may be charged less"

    ledger = run_db(db, lambda service, storage: storage.list_ledger(seeded.account_id, limit=10_000))
    charges = [e for e in ledger if e.kind == "charge"]
    assert len({e.request_id for e in charges}) == len(charges), "a request charged twice in the ledger"
    assert -sum(e.amount_micros for e in charges) == credit - end


def test_200_concurrent_requests_charge_exactly_once_on_postgres_two_replicas(pair: Pair) -> None:
    check_burst_charges_exactly_once(pair.db, pair.urls)


def test_200_concurrent_requests_charge_exactly_once_on_sqlite(
    spawn: Any, simulator: Any, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'burst.db'}"
    gw = spawn(database_url=db, upstream_base_url=simulator.base_url)
    check_burst_charges_exactly_once(db, [gw.base_url])


def _leases(redis_url: str, key_id: str) -> tuple[dict[str, float], int]:
    """The key's concurrency leases (member → expiry in µs of Redis time) and Redis's now in µs."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        seconds, micros = client.time()
        found = client.zrange(f"occ:rl:{{{key_id}}}:leases", 0, -1, withscores=True)
        return {m.decode(): s for m, s in found}, seconds * 1_000_000 + micros
    finally:
        client.close()


def test_kill_9_mid_stream_keeps_the_other_replica_serving_and_nothing_half_written(pair: Pair) -> None:
    victim_key = seed(pair.db, usd="5.00", rpm=1000, concurrency=4)
    other_key = seed(pair.db, usd="5.00", rpm=1000, concurrency=10)
    slow = chat_body(stream=True, max_tokens=30, simulate={"fault": "slow", "delay_s": 0.2})

    after_kill: list[Any] = []

    async def scenario() -> tuple[list[Any], list[Answer]]:
        async with httpx.AsyncClient(timeout=60) as client:
            doomed = [await OpenStream.open(client, pair.b.base_url, victim_key.key, slow) for _ in range(4)]
            survivors = [
                await OpenStream.open(client, pair.a.base_url, other_key.key, slow) for _ in range(2)
            ]
            pair.b.signal(signal.SIGKILL)
            pair.b.wait(10)
            after_kill.append(_leases(pair.redis_url, victim_key.key_id))
            after_kill.append(post_chat(pair.a.base_url, victim_key.key, chat_body()))
            outcomes: list[Any] = []
            for stream in doomed:  # the dead replica's clients see a broken connection
                try:
                    outcomes.append((await stream.rest()).text)
                except httpx.HTTPError as exc:
                    outcomes.append(exc)
            during = [
                await apost_chat(client, pair.a.base_url, other_key.key, chat_body(stream=s))
                for s in (False, True)
            ]
            return outcomes, during + [await stream.rest() for stream in survivors]

    broken, served = asyncio.run(scenario())
    assert all(isinstance(o, httpx.HTTPError) or "[DONE]" not in o for o in broken)
    assert [a.status for a in served] == [200] * 4
    assert all(a.events[-1] == "[DONE]" for a in served[1:]), "streams on the live replica finish"

    # The dead replica's four slots are still leased in Redis, so the key is full everywhere …
    (leases, now_us), refused = after_kill
    assert len(leases) == 4
    assert all(now_us < expiry <= now_us + (LEASE_S + 1) * 1_000_000 for expiry in leases.values())
    assert refused.status == 429 and "concurrent" in refused.json()["error"]["message"]
    # … until their lease runs out (nobody renews a dead replica's leases), then the live replica admits it.
    deadline = time.monotonic() + LEASE_S * 3
    status = 429
    while status == 429 and time.monotonic() < deadline:
        time.sleep(0.25)
        status = post_chat(pair.a.base_url, victim_key.key, chat_body()).status
    assert status == 200

    pair.b.start()  # restart on the same port and database
    assert post_chat(pair.b.base_url, victim_key.key, chat_body(stream=True)).events[-1] == "[DONE]"
    for seeded, expected in ((victim_key, 2), (other_key, 4)):
        rows = _wait_rows(pair.db, seeded.account_id, expected)
        time.sleep(0.2)
        rows = usage_rows(pair.db, seeded.account_id)
        assert len(rows) == expected, [r.status for r in rows]  # killed requests: no row at all
        assert len({r.request_id for r in rows}) == len(rows)
        assert all(r.status == "ok" and r.charged_micros > 0 and r.total_ms > 0 for r in rows)
        assert sum(r.charged_micros for r in rows) == 5_000_000 - balance(pair.db, seeded.account_id)
