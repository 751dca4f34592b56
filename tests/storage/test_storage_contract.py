"""The storage contract: every backend must pass this suite unchanged (see conftest.py)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from opencompress.errors import ConflictError, InvalidRequestError, NotFoundError, StorageError
from opencompress.storage import Account, ApiKey, SqliteStorage, Storage, open_storage
from support.records import usage_for

UseStorage = Callable[[Callable[[Storage], Awaitable[None]]], None]

NOW = 1_750_000_000.0


async def funded(storage: Storage, micros: int, *, name: str = "acme") -> tuple[Account, ApiKey]:
    account = await storage.create_account(name)
    if micros:
        await storage.credit(account.id, micros, "test funds")
    key = await storage.create_key(
        account_id=account.id,
        name="k",
        mode="router",
        key_hash=f"hash-{account.id}",
        prefix="sk-occ-abcdefgh",
    )
    return account, key


async def ledger_sum(storage: Storage, account_id: str) -> int:
    return sum(entry.amount_micros for entry in await storage.list_ledger(account_id, limit=10_000))


def test_migrate_is_idempotent_and_ping_works(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        assert await storage.migrate() == []
        await storage.ping()

    use_storage(body)


def test_accounts_create_get_list_count(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        assert await storage.count_accounts() == 0
        first = await storage.create_account("first", email="a@example.com")
        second = await storage.create_account("second")
        assert first.id.startswith("acct_") and first.id != second.id
        assert first.balance_micros == 0
        assert await storage.get_account(first.id) == first
        assert await storage.get_account_by_email("a@example.com") == first
        assert await storage.get_account_by_email("nobody@example.com") is None
        assert await storage.get_account("acct_missing") is None
        assert {a.id for a in await storage.list_accounts()} == {first.id, second.id}
        assert await storage.count_accounts() == 2

    use_storage(body)


def test_duplicate_email_is_a_conflict(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        await storage.create_account("one", email="same@example.com")
        with pytest.raises(ConflictError):
            await storage.create_account("two", email="same@example.com")
        assert await storage.count_accounts() == 1

    use_storage(body)


def test_credit_moves_balance_and_writes_ledger(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("acme")
        assert await storage.credit(account.id, 2_500_000, "top-up") == 2_500_000
        assert await storage.credit(account.id, 500_000, "bonus") == 3_000_000
        entries = await storage.list_ledger(account.id)
        assert [(e.kind, e.amount_micros, e.reason) for e in entries] == [
            ("credit", 500_000, "bonus"),
            ("credit", 2_500_000, "top-up"),
        ]
        assert entries[0].id > entries[1].id and entries[0].request_id is None
        assert [e.amount_micros for e in await storage.list_ledger(account.id, limit=1)] == [500_000]
        for bad in (0, -5):
            with pytest.raises(InvalidRequestError):
                await storage.credit(account.id, bad, "nope")
        with pytest.raises(NotFoundError):
            await storage.credit("acct_missing", 1, "nope")
        fresh = await storage.get_account(account.id)
        assert fresh is not None and fresh.balance_micros == 3_000_000

    use_storage(body)


def test_keys_create_lookup_list_revoke(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("acme")
        secret = bytes(range(256))
        key = await storage.create_key(
            account_id=account.id,
            name="laptop",
            mode="byok",
            key_hash="f" * 64,
            prefix="sk-occ-dUioZ7ag",
            rpm_limit=5,
            concurrency_limit=2,
            compression_level="lossless",
            upstream_base_url="http://127.0.0.1:9999/v1",
            upstream_key_encrypted=secret,
        )
        assert key.id.startswith("key_") and key.is_active and key.last_used_at is None
        assert await storage.get_key(key.id) == key
        by_hash = await storage.get_key_by_hash("f" * 64)
        assert by_hash == key and by_hash.upstream_key_encrypted == secret and by_hash.rpm_limit == 5
        assert await storage.get_key_by_hash("0" * 64) is None
        other = await storage.create_key(
            account_id=account.id, name="ci", mode="router", key_hash="e" * 64, prefix="sk-occ-xxxxxxxx"
        )
        assert [k.id for k in await storage.list_keys(account.id)] == [key.id, other.id]
        assert await storage.revoke_key(key.id) is True
        assert await storage.revoke_key(key.id) is False
        assert await storage.revoke_key("key_missing") is False
        revoked = await storage.get_key_by_hash("f" * 64)
        assert revoked is not None and revoked.is_active is False
        assert [k.is_active for k in await storage.list_keys(account.id)] == [False, True]

    use_storage(body)


def test_create_key_checks_account_and_active_limit(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        with pytest.raises(NotFoundError):
            await storage.create_key(
                account_id="acct_missing", name="k", mode="router", key_hash="a", prefix="p"
            )
        account = await storage.create_account("acme")
        made = [
            await storage.create_key(
                account_id=account.id, name=f"k{i}", mode="router", key_hash=f"h{i}", prefix="p", max_active=2
            )
            for i in range(2)
        ]
        with pytest.raises(InvalidRequestError):
            await storage.create_key(
                account_id=account.id, name="k3", mode="router", key_hash="h3", prefix="p", max_active=2
            )
        await storage.revoke_key(made[0].id)
        await storage.create_key(
            account_id=account.id, name="k3", mode="router", key_hash="h3", prefix="p", max_active=2
        )
        assert len(await storage.list_keys(account.id)) == 3

    use_storage(body)


def test_touch_keys_only_moves_forward(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        _, key = await funded(storage, 0)
        await storage.touch_keys({key.id: NOW, "key_missing": NOW})
        assert (await storage.get_key(key.id)).last_used_at == NOW  # type: ignore[union-attr]
        await storage.touch_keys({key.id: NOW - 10})
        assert (await storage.get_key(key.id)).last_used_at == NOW  # type: ignore[union-attr]
        await storage.touch_keys({key.id: NOW + 5})
        assert (await storage.get_key(key.id)).last_used_at == NOW + 5  # type: ignore[union-attr]
        await storage.touch_keys({})

    use_storage(body)


def test_reserve_holds_available_balance(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        broke, _ = await funded(storage, 0, name="broke")
        assert await storage.reserve(broke.id, "r0", 100, ttl_s=60) == 0
        account, _ = await funded(storage, 1_000)
        assert await storage.reserve(account.id, "r1", 600, ttl_s=60) == 600
        assert await storage.reserve(account.id, "r1", 600, ttl_s=60) == 600  # idempotent, no second hold
        assert await storage.reserve(account.id, "r2", 600, ttl_s=60) == 400  # capped at what is left
        assert await storage.reserve(account.id, "r3", 1, ttl_s=60) == 0
        await storage.release("r2")
        await storage.release("r2")  # idempotent
        assert await storage.reserve(account.id, "r3", 0, ttl_s=60) == 1  # an estimate of 0 still holds 1
        with pytest.raises(NotFoundError):
            await storage.reserve("acct_missing", "r4", 1, ttl_s=60)

    use_storage(body)


def test_expired_holds_do_not_count(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, _ = await funded(storage, 1_000)
        assert await storage.reserve(account.id, "stale", 1_000, ttl_s=-1) == 1_000
        assert await storage.reserve(account.id, "fresh", 700, ttl_s=60) == 700

    use_storage(body)


def test_renewed_holds_outlive_their_ttl_and_lapsed_ones_stay_lapsed(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, _ = await funded(storage, 1_000)
        assert await storage.reserve(account.id, "long", 600, ttl_s=0.3) == 600
        assert await storage.reserve(account.id, "lapsed", 400, ttl_s=-1) == 400
        await storage.renew_holds({"long", "lapsed", "unknown"}, ttl_s=60)
        await asyncio.sleep(0.4)  # past the first TTL: only the renewal keeps "long" held
        assert await storage.reserve(account.id, "next", 1_000, ttl_s=60) == 400
        await storage.renew_holds((), ttl_s=60)  # nothing in flight: a no-op

    use_storage(body)


def test_settle_charges_once_and_writes_everything(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 10_000)
        assert await storage.reserve(account.id, "req-1", 5_000, ttl_s=60) == 5_000
        usage = replace(usage_for(key, "req-1", 3_210), charged_micros=999_999)  # input value is ignored
        result = await storage.settle(usage)
        assert (result.charged_micros, result.balance_after_micros, result.duplicate) == (3_210, 6_790, False)
        stored = await storage.get_usage("req-1")
        assert stored == replace(usage, charged_micros=3_210)
        # the hold is gone: the whole remaining balance is available again
        assert await storage.reserve(account.id, "req-2", 10_000, ttl_s=60) == 6_790
        again = await storage.settle(replace(usage, charge_micros=50))
        assert (again.charged_micros, again.balance_after_micros, again.duplicate) == (3_210, 6_790, True)
        charges = [e for e in await storage.list_ledger(account.id) if e.kind == "charge"]
        assert [(e.amount_micros, e.request_id) for e in charges] == [(-3_210, "req-1")]
        assert await ledger_sum(storage, account.id) == 6_790
        assert await storage.get_usage("req-missing") is None

    use_storage(body)


def test_settle_caps_charge_at_balance(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 1_000)
        capped = await storage.settle(usage_for(key, "big", 5_000))
        assert (capped.charged_micros, capped.balance_after_micros) == (1_000, 0)
        empty = await storage.settle(usage_for(key, "after", 700))
        assert (empty.charged_micros, empty.balance_after_micros, empty.duplicate) == (0, 0, False)
        after = await storage.get_usage("after")
        assert after is not None and after.charged_micros == 0 and after.charge_micros == 700
        ledger = await storage.list_ledger(account.id)
        assert [e.request_id for e in ledger if e.kind == "charge"] == ["big"]  # no row for a zero charge
        assert await ledger_sum(storage, account.id) == 0
        with pytest.raises(ValueError):
            await storage.settle(usage_for(key, "negative", -1))

    use_storage(body)


def test_settle_with_unknown_key_fails_cleanly(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 1_000)
        with pytest.raises(StorageError):
            await storage.settle(replace(usage_for(key, "bad", 10), key_id="key_missing"))
        fresh = await storage.get_account(account.id)
        assert fresh is not None and fresh.balance_micros == 1_000  # nothing half-written
        assert await storage.get_usage("bad") is None

    use_storage(body)


def test_list_usage_pages_newest_first_with_filters(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 1_000_000)
        other_account, other_key = await funded(storage, 1_000_000, name="other")
        second_key = await storage.create_key(
            account_id=account.id, name="k2", mode="router", key_hash="second", prefix="sk-occ-22222222"
        )
        # three rows share a timestamp so the cursor must break ties by request id
        times = [NOW, NOW + 1, NOW + 1, NOW + 1, NOW + 2, NOW + 3]
        for i, ts in enumerate(times):
            use_key = second_key if i == 4 else key
            model = "gpt-4o-mini" if i % 2 else "gpt-4o"
            await storage.settle(usage_for(use_key, f"req-{i}", 10, created_at=ts, model=model))
        await storage.settle(usage_for(other_key, "foreign", 10, created_at=NOW + 1))

        seen: list[str] = []
        before: tuple[float, str] | None = None
        while page := await storage.list_usage(account.id, limit=2, before=before):
            seen += [row.request_id for row in page]
            before = (page[-1].created_at, page[-1].request_id)
        assert seen == ["req-5", "req-4", "req-3", "req-2", "req-1", "req-0"]

        async def ids(**filters: object) -> list[str]:
            return [row.request_id for row in await storage.list_usage(account.id, **filters)]  # type: ignore[arg-type]

        assert await ids(since=NOW + 1, until=NOW + 3) == ["req-4", "req-3", "req-2", "req-1"]
        assert await ids(key_id=second_key.id) == ["req-4"]
        assert await ids(model="gpt-4o-mini") == ["req-5", "req-3", "req-1"]
        assert await ids(limit=1) == ["req-5"]
        assert [r.request_id for r in await storage.list_usage(other_account.id)] == ["foreign"]

    use_storage(body)


def test_concurrent_reserve_and_settle_stay_exact(use_storage: UseStorage) -> None:
    """50 concurrent requests, balance for about 20: nothing lost, nothing doubled, never negative."""

    async def body(storage: Storage) -> None:
        start = 20_500
        account, key = await funded(storage, start)
        rng = random.Random(7)

        async def one(i: int) -> int | None:
            request_id = f"req-{i}"
            held = await storage.reserve(account.id, request_id, 1_000, ttl_s=60)
            if held == 0:
                return None
            await asyncio.sleep(rng.random() / 200)
            charge = 900 + rng.randrange(300)  # some above the hold, like a longer answer
            result = await storage.settle(usage_for(key, request_id, charge))
            assert not result.duplicate and result.balance_after_micros >= 0
            return result.charged_micros

        outcomes = await asyncio.gather(*(one(i) for i in range(50)))
        admitted = [i for i, charged in enumerate(outcomes) if charged is not None]
        assert 18 <= len(admitted) < 50
        final = await storage.get_account(account.id)
        assert final is not None and final.balance_micros >= 0
        charged_total = sum(c for c in outcomes if c is not None)
        assert start - final.balance_micros == charged_total
        assert await ledger_sum(storage, account.id) == final.balance_micros
        rows = await storage.list_usage(account.id, limit=1_000)
        assert sorted(r.request_id for r in rows) == sorted(f"req-{i}" for i in admitted)
        assert sum(r.charged_micros for r in rows) == charged_total
        charge_ids = [
            e.request_id for e in await storage.list_ledger(account.id, limit=1_000) if e.kind == "charge"
        ]
        assert len(charge_ids) == len(set(charge_ids))

        # a second settle of every request (retries) changes nothing
        retries = await asyncio.gather(*(storage.settle(usage_for(key, f"req-{i}", 500)) for i in admitted))
        assert all(r.duplicate for r in retries)
        assert [r.charged_micros for r in retries] == [outcomes[i] for i in admitted]
        again = await storage.get_account(account.id)
        assert again is not None and again.balance_micros == final.balance_micros

    use_storage(body)


def test_closed_storage_refuses_calls(storage_url: str) -> None:
    async def main() -> None:
        storage = open_storage(storage_url)
        await storage.migrate()
        await storage.close()
        await storage.close()  # idempotent
        with pytest.raises(StorageError):
            await storage.ping()

    asyncio.run(main())


# --- account console (migration 0002): usage by day, passwords, sessions ---

DAY = 86_400.0


def test_usage_by_day_sums_per_utc_day_with_filters(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 25)  # caps the later charges at the balance
        other_account, other_key = await funded(storage, 1_000_000, name="other")
        second = await storage.create_key(
            account_id=account.id, name="k2", mode="router", key_hash="second-day", prefix="sk-occ-33333333"
        )
        day0 = int(NOW // DAY)
        start = day0 * DAY
        await storage.settle(usage_for(key, "a", 10, created_at=start))  # first second of day0
        await storage.settle(usage_for(second, "b", 10, created_at=start + DAY - 0.001, model="m2"))
        await storage.settle(usage_for(key, "c", 10, created_at=start + 2 * DAY + 5))  # charged 5 (capped)
        await storage.settle(usage_for(other_key, "x", 10, created_at=start))

        days = await storage.usage_by_day(account.id)
        assert [d.day for d in days] == [day0, day0 + 2]
        first, third = days
        assert (first.calls, first.original_input_tokens, first.compressed_input_tokens) == (2, 2000, 1200)
        assert (first.output_tokens, first.savings_micros, first.fee_micros) == (100, 200, 40)
        assert (first.original_cost_micros, first.actual_cost_micros, first.charged_micros) == (220, 20, 20)
        assert (third.calls, third.charged_micros) == (1, 5)
        assert [d.calls for d in await storage.usage_by_day(account.id, key_id=second.id)] == [1]
        assert [d.day for d in await storage.usage_by_day(account.id, model="gpt-4o")] == [day0, day0 + 2]
        assert [d.day for d in await storage.usage_by_day(account.id, since=start + 1)] == [day0, day0 + 2]
        assert [d.calls for d in await storage.usage_by_day(account.id, since=start + 1)] == [1, 1]
        assert [d.day for d in await storage.usage_by_day(account.id, until=start + DAY)] == [day0]
        assert await storage.usage_by_day(other_account.id, since=start + 1) == []

    use_storage(body)


def test_password_hash_get_and_set(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("p", email="p@example.com", password_hash="$argon2id$one")
        bare = await storage.create_account("bare")
        assert await storage.get_password_hash(account.id) == "$argon2id$one"
        assert await storage.get_password_hash(bare.id) is None
        assert await storage.get_password_hash("acct_missing") is None
        await storage.set_password_hash(bare.id, "$argon2id$two")
        assert await storage.get_password_hash(bare.id) == "$argon2id$two"
        assert await storage.get_password_hash(account.id) == "$argon2id$one"
        with pytest.raises(NotFoundError):
            await storage.set_password_hash("acct_missing", "$argon2id$x")
        assert "argon2" not in repr(await storage.get_account(account.id))

    use_storage(body)


def test_sessions_create_get_delete_and_password_change_ends_them(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("s", email="s@example.com")
        other = await storage.create_account("o")
        far = NOW * 2
        created = await storage.create_session(token_hash="h1", account_id=account.id, expires_at=far)
        assert (created.token_hash, created.account_id, created.expires_at) == ("h1", account.id, far)
        assert await storage.get_session("h1") == created
        assert await storage.get_session("nope") is None
        await storage.create_session(token_hash="h2", account_id=account.id, expires_at=far)
        await storage.create_session(token_hash="h3", account_id=other.id, expires_at=far)
        await storage.delete_session("h1")
        await storage.delete_session("h1")  # idempotent
        assert await storage.get_session("h1") is None and await storage.get_session("h2") is not None
        await storage.set_password_hash(account.id, "$argon2id$new")
        assert await storage.get_session("h2") is None
        assert await storage.get_session("h3") is not None  # other accounts keep theirs
        with pytest.raises(NotFoundError):
            await storage.create_session(token_hash="h4", account_id="acct_missing", expires_at=far)

    use_storage(body)


def test_extend_session_moves_only_that_sessions_expiry(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("x")
        far = NOW * 2
        await storage.create_session(token_hash="a", account_id=account.id, expires_at=far)
        await storage.create_session(token_hash="b", account_id=account.id, expires_at=far)
        assert await storage.extend_session("a", far + 100) is True
        assert (await storage.get_session("a")).expires_at == far + 100  # type: ignore[union-attr]
        assert (await storage.get_session("b")).expires_at == far  # type: ignore[union-attr]
        assert await storage.extend_session("gone", far + 100) is False

    use_storage(body)


def test_a_sessions_created_at_is_its_sign_in_time_and_survives_extension(use_storage: UseStorage) -> None:
    """The absolute session lifetime is measured from ``created_at``: sliding must not move it."""

    async def body(storage: Storage) -> None:
        account = await storage.create_account("c")
        before = time.time()
        created = await storage.create_session(token_hash="s", account_id=account.id, expires_at=NOW * 2)
        assert before - 1 <= created.created_at <= time.time() + 1
        assert await storage.extend_session("s", NOW * 3)
        stored = await storage.get_session("s")
        assert stored is not None and (stored.created_at, stored.expires_at) == (created.created_at, NOW * 3)

    use_storage(body)


def test_create_session_prunes_the_accounts_expired_sessions(use_storage: UseStorage) -> None:
    async def body(storage: Storage) -> None:
        account = await storage.create_account("e")
        other = await storage.create_account("f")
        expired = await storage.create_session(token_hash="old", account_id=account.id, expires_at=1.0)
        assert await storage.get_session("old") == expired  # returned even when expired
        await storage.create_session(token_hash="other-old", account_id=other.id, expires_at=1.0)
        await storage.create_session(token_hash="new", account_id=account.id, expires_at=NOW * 2)
        assert await storage.get_session("old") is None
        assert await storage.get_session("other-old") is not None

    use_storage(body)


def test_stats_are_cheap_numbers_about_this_process(use_storage: UseStorage) -> None:
    """``stats()`` feeds /metrics: a flat name -> number map, filled in once the backend is in use."""

    async def body(storage: Storage) -> None:
        account, key = await funded(storage, 10_000)
        assert await storage.reserve(account.id, "s1", 100, ttl_s=60) == 100
        await storage.settle(usage_for(key, "s1", 50))
        stats = storage.stats()
        assert stats and all(isinstance(v, int | float) and v >= 0 for v in stats.values())
        if isinstance(storage, SqliteStorage):  # counts its own commits and in-process holds
            assert set(stats) == {"lock_retries", "settle_commits", "settled_charges", "holds"}
            assert stats["settled_charges"] == 1 and stats["settle_commits"] == 1
            assert stats["holds"] == 0  # the settle released the hold
        else:  # PostgreSQL reports its connection pool
            assert set(stats) == {"pool_size", "pool_available", "requests_waiting"}
            assert stats["pool_size"] >= 1

    use_storage(body)
