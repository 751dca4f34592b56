"""Charging stays exact under load from two "replicas" (two storage objects on one database).

Runs on every backend (see conftest.py). 200 concurrent requests on one account whose balance
covers about 50 of them are split across two storages, each with its own connections (PostgreSQL:
two pools; SQLite: two worker threads on one file). Each request does what the gateway does:
reserve, then either 402 (nothing held) or settle.

PostgreSQL replicas share their balance holds, so together they admit about what the balance
covers. SQLite keeps holds in each process (one gateway per file is the embedded default, see
storage/process_holds.py), so there each replica admits about that much on its own.

Afterwards, on both backends: every admitted request is charged exactly once, the balance never
went below zero, the charges add up to the balance change to the micro-dollar, and settling
everything again through the *other* replica changes nothing.
"""

from __future__ import annotations

import asyncio
import random

from opencompress.storage import SettleResult, Storage, open_storage
from support.records import usage_for

REQUESTS = 200
START_MICROS = 50_500
ESTIMATE = 1_000


def test_200_concurrent_requests_on_two_replicas_charge_exactly_once(storage_url: str) -> None:
    rng = random.Random(11)
    charges = [800 + rng.randrange(500) for _ in range(REQUESTS)]  # some above the hold

    async def main() -> None:
        replicas: list[Storage] = [open_storage(storage_url), open_storage(storage_url)]
        try:
            for replica in replicas:
                await replica.migrate()
            first = replicas[0]
            account = await first.create_account("load")
            await first.credit(account.id, START_MICROS, "funds")
            key = await first.create_key(
                account_id=account.id, name="k", mode="router", key_hash="load", prefix="sk-occ-load"
            )

            async def one(i: int) -> SettleResult | None:
                storage = replicas[i % 2]
                request_id = f"req-{i:03d}"
                if await storage.reserve(account.id, request_id, ESTIMATE, ttl_s=60) == 0:
                    return None  # the gateway answers 402 and forwards nothing
                await asyncio.sleep(rng.random() / 500)  # the upstream call
                result = await storage.settle(usage_for(key, request_id, charges[i]))
                assert not result.duplicate and result.balance_after_micros >= 0
                return result

            outcomes = await asyncio.gather(*(one(i) for i in range(REQUESTS)))
            admitted = {f"req-{i:03d}": r for i, r in enumerate(outcomes) if r is not None}
            most = 65 if storage_url.startswith("postgresql") else 130
            assert 40 <= len(admitted) <= most, len(admitted)  # about 50 covered (per replica on SQLite)

            final = await first.get_account(account.id)
            assert final is not None and final.balance_micros >= 0
            charged_total = sum(r.charged_micros for r in admitted.values())
            assert START_MICROS - final.balance_micros == charged_total
            assert all(r.charged_micros <= charges[int(rid[4:])] for rid, r in admitted.items())
            assert final.balance_micros < min(charges)  # the money really ran out

            rows = await replicas[1].list_usage(account.id, limit=1_000)
            assert sorted(r.request_id for r in rows) == sorted(admitted)
            assert {r.request_id: r.charged_micros for r in rows} == {
                rid: r.charged_micros for rid, r in admitted.items()
            }
            ledger = await first.list_ledger(account.id, limit=1_000)
            charge_rows = [e for e in ledger if e.kind == "charge"]
            assert len({e.request_id for e in charge_rows}) == len(charge_rows)  # one ledger row per request
            assert sum(e.amount_micros for e in ledger) == final.balance_micros

            # Retries of every settle, concurrently and through the other replica: all no-ops.
            retries = await asyncio.gather(
                *(replicas[(int(rid[4:]) + 1) % 2].settle(usage_for(key, rid, 1)) for rid in sorted(admitted))
            )
            assert all(r.duplicate for r in retries)
            assert [r.charged_micros for r in retries] == [
                admitted[rid].charged_micros for rid in sorted(admitted)
            ]
            again = await replicas[1].get_account(account.id)
            assert again is not None and again.balance_micros == final.balance_micros
            assert len(await first.list_ledger(account.id, limit=1_000)) == len(ledger)
        finally:
            for replica in replicas:
                await replica.close()

    asyncio.run(main())
