"""PostgreSQL-only behaviour: URL forms, concurrent migrations, cancellation safety, outages.

Everything backend-neutral lives in the contract suite, which runs on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from opencompress.errors import StorageError
from opencompress.storage import ApiKey, Storage, UnsupportedDatabaseURL, open_storage
from opencompress.storage.migrate import load_migrations
from opencompress.storage.postgres import PROBE_IDLE_S, PostgresStorage, parse_postgres_url
from support.records import usage_for
from support.services import PostgresServer, free_port

pytestmark = pytest.mark.postgres


async def funded_key(storage: Storage, micros: int) -> ApiKey:
    account = await storage.create_account("pg")
    await storage.credit(account.id, micros, "funds")
    return await storage.create_key(
        account_id=account.id, name="k", mode="router", key_hash=f"h-{account.id}", prefix="sk-occ-x"
    )


@pytest.mark.parametrize(
    ("url", "conninfo", "options"),
    [
        ("postgresql://u:p@db:5432/oc", "postgresql://u:p@db:5432/oc", {}),
        ("postgres://db/oc", "postgresql://db/oc", {}),
        ("postgresql+psycopg://db/oc?sslmode=require", "postgresql://db/oc?sslmode=require", {}),
        (
            "postgresql://db/oc?pool_max_size=3&application_name=gw&pool_timeout=0.5&pool_min_size=0",
            "postgresql://db/oc?application_name=gw",
            {"pool_max_size": 3.0, "pool_timeout": 0.5, "pool_min_size": 0.0},
        ),
    ],
)
def test_url_forms_and_pool_options(url: str, conninfo: str, options: dict[str, float]) -> None:
    parsed, found = parse_postgres_url(url)
    assert parsed == conninfo
    assert found == {"pool_min_size": 1.0, "pool_max_size": 10.0, "pool_timeout": 5.0, **options}
    assert isinstance(open_storage(url), PostgresStorage)  # lazy: no server needed


def test_bad_pool_option_is_a_clear_configuration_error() -> None:
    with pytest.raises(UnsupportedDatabaseURL, match="pool_max_size must be a number"):
        open_storage("postgresql://db/oc?pool_max_size=lots")


def test_concurrent_migrations_apply_each_file_once(pg_server: PostgresServer) -> None:
    url = pg_server.create_database("migrate")

    async def main() -> list[list[str]]:
        storages = [open_storage(url) for _ in range(4)]
        try:
            return await asyncio.gather(*(s.migrate() for s in storages))
        finally:
            for s in storages:
                await s.close()

    results = asyncio.run(main())
    everything = [m.name for m in load_migrations("postgresql")]
    assert sorted(results, key=len) == [[], [], [], everything]  # one replica migrated, three waited
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (len(everything),)


def test_a_cancelled_caller_does_not_cancel_its_charge(pg_server: PostgresServer) -> None:
    """The client disconnects while the charge waits for the account's row lock: it still commits."""
    url = pg_server.create_database("cancel")

    async def main() -> tuple[int, int]:
        storage = open_storage(url)
        try:
            await storage.migrate()
            key = await funded_key(storage, 10_000)
            blocker = await psycopg.AsyncConnection.connect(url)
            await blocker.execute("SELECT 1 FROM accounts WHERE id = %s FOR UPDATE", (key.account_id,))
            task = asyncio.ensure_future(storage.settle(usage_for(key, "req-1", 1_234)))
            await asyncio.sleep(0.2)
            assert not task.done()  # waiting for the lock
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await blocker.commit()
            await blocker.close()
            deadline = time.monotonic() + 5
            while (row := await storage.get_usage("req-1")) is None:
                assert time.monotonic() < deadline, "the cancelled settle never committed"
                await asyncio.sleep(0.02)
            account = await storage.get_account(key.account_id)
            assert account is not None
            return row.charged_micros, account.balance_micros
        finally:
            await storage.close()

    assert asyncio.run(main()) == (1_234, 10_000 - 1_234)


def test_outage_is_a_storage_error_and_the_pool_recovers(own_pg: PostgresServer) -> None:
    url = own_pg.create_database("outage") + "?pool_timeout=1"

    async def main() -> float:
        storage = open_storage(url)
        try:
            await storage.migrate()
            key = await funded_key(storage, 5_000)
            # A restart while the pool is idle: its stale connections (several, after a burst)
            # are probed, purged and replaced, so no request fails.
            await asyncio.gather(*(storage.get_key_by_hash(f"h-{key.account_id}") for _ in range(8)))
            own_pg.stop("fast")
            own_pg.start()
            await asyncio.sleep(PROBE_IDLE_S + 0.1)
            assert await storage.get_key_by_hash(f"h-{key.account_id}") == key
            found = await asyncio.gather(*(storage.get_key_by_hash(f"h-{key.account_id}") for _ in range(8)))
            assert found == [key] * 8

            own_pg.stop("immediate")
            started = time.monotonic()
            with pytest.raises(StorageError, match="database unavailable") as raised:
                await storage.get_key_by_hash(f"h-{key.account_id}")
            assert time.monotonic() - started < 3  # bounded by pool_timeout, not minutes
            assert raised.value.status == 503 and raised.value.code == "storage_unavailable"
            with pytest.raises(StorageError):
                await storage.reserve(key.account_id, "r1", 100, ttl_s=60)
            own_pg.start()
            back = time.monotonic()
            while True:
                try:
                    assert await storage.reserve(key.account_id, "r1", 100, ttl_s=60) == 100
                    break
                except StorageError:
                    assert time.monotonic() - back < 6, "the pool did not recover"
            return time.monotonic() - back
        finally:
            await storage.close()

    recovered_in = asyncio.run(main())
    print(f"pool recovered {recovered_in:.2f} s after the server came back")
    assert recovered_in < 6


def test_unreachable_at_start_is_a_storage_error() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/oc?pool_timeout=0.5"  # nothing listens there

    async def main() -> None:
        storage = open_storage(url)
        try:
            with pytest.raises(StorageError, match="database unavailable"):
                await storage.migrate()
            with pytest.raises(StorageError, match="database unavailable"):
                await storage.ping()
        finally:
            await storage.close()

    asyncio.run(main())
