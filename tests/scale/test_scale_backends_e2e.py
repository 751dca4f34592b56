"""The gateway on PostgreSQL + Redis, end to end: outages fail safe, limits are global across replicas.

Real servers on loopback: a throwaway PostgreSQL and redis-server, the project's upstream
simulator (its own instance, so its request log is this module's alone) and one or two gateway
apps under uvicorn in threads, configured exactly as an operator would (database and Redis URLs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencompress.config import Settings
from opencompress.http.app import create_app
from opencompress.simulator import SimulatorThread
from support.gateway import Gateway
from support.server import ServerThread
from support.services import PostgresServer, ServiceMissing, missing_service, redis_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BODY: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(recordings_dir=None) as simulator:
        yield simulator


@contextmanager
def gateway_on(database_url: str, sim: SimulatorThread, tmp: Path, **overrides: Any) -> Iterator[Gateway]:
    settings = Settings.load(env={}).replace(
        database_url=database_url,
        upstream_base_url=sim.base_url,
        upstream_api_key="sk-upstream-test",
        dev_mode=False,
        secret_key_file=str(tmp / "secret.key"),
        **overrides,
    )
    app = create_app(settings)
    with ServerThread(app) as server:
        yield Gateway(server, settings, sim.url, app)


def chat(http: httpx.Client, key: str, **extra: Any) -> httpx.Response:
    return http.post(
        "/v1/chat/completions", json={**BODY, **extra}, headers={"Authorization": f"Bearer {key}"}
    )


def test_postgres_down_is_503_and_nothing_is_forwarded(
    own_pg: PostgresServer, sim: SimulatorThread, tmp_path: Path
) -> None:
    url = own_pg.create_database("gateway") + "?pool_timeout=1"
    with gateway_on(url, sim, tmp_path) as gw:
        seeded = gw.seed(usd="1.00")
        start_balance = gw.balance(seeded.account_id)
        with gw.http() as http:
            assert chat(http, seeded.key).status_code == 200
            forwarded = len(gw.sim_requests())

            own_pg.stop("immediate")
            for stream in (False, True):
                down = chat(http, seeded.key, stream=stream)
                assert down.status_code == 503, down.text
                assert down.headers["content-type"].startswith("application/json")  # not a started stream
                error = down.json()["error"]
                assert (error["type"], error["code"]) == ("service_unavailable", "storage_unavailable")
                assert "database unavailable" in error["message"] and "Traceback" not in down.text
            assert len(gw.sim_requests()) == forwarded  # nothing went upstream unbilled

            own_pg.start()
            for _ in range(20):  # the pool reconnects on its own; allow a few seconds
                if (again := chat(http, seeded.key)).status_code == 200:
                    break
                assert again.status_code == 503
            assert again.status_code == 200, again.text
            assert len(gw.sim_requests()) == forwarded + 1

        rows = gw.usage(seeded.account_id)
        assert len(rows) == 2 and all(row.charged_micros > 0 for row in rows)
        assert start_balance - gw.balance(seeded.account_id) == sum(row.charged_micros for row in rows)


def test_two_replicas_share_one_rate_limit_through_redis(
    postgres_url: str, redis_url: str, sim: SimulatorThread, tmp_path: Path
) -> None:
    with (
        gateway_on(postgres_url, sim, tmp_path, redis_url=redis_url) as first,
        gateway_on(postgres_url, sim, tmp_path, redis_url=redis_url) as second,
    ):
        seeded = first.seed(usd="5.00", rpm=5, name="shared-limit")
        with first.http() as one, second.http() as two:
            answers = [chat(one if i % 2 == 0 else two, seeded.key) for i in range(12)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 7  # per-process limits would give 10
        refused = answers[-1]
        assert (
            refused.json()["error"]["type"] == "rate_limit_error" and int(refused.headers["Retry-After"]) >= 1
        )
        assert [a.headers["X-RateLimit-Remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
        assert len(first.usage(seeded.account_id)) == 5


def test_redis_down_falls_back_to_local_limits(
    postgres_url: str, sim: SimulatorThread, tmp_path: Path
) -> None:
    try:
        redis_cm = redis_server()
        redis = redis_cm.__enter__()
    except ServiceMissing as exc:
        missing_service(str(exc))
    try:
        with gateway_on(postgres_url, sim, tmp_path, redis_url=redis.url) as gw:
            seeded = gw.seed(usd="5.00", rpm=3, name="redis-down")
            with gw.http() as http:
                assert chat(http, seeded.key).status_code == 200  # counted in Redis
                redis.stop()
                statuses = [chat(http, seeded.key).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # served, with this process's own limit of 3
    finally:
        redis_cm.__exit__(None, None, None)
