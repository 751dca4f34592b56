"""Keys through the REST API: exact list fields, full key once, 5 active keys, revoke, ownership."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from support.gateway import Gateway, Owner, error_of

LIST_FIELDS = {"id", "name", "keyPrefix", "mode", "isActive", "lastUsedAt", "createdAt"}
MESSAGES: Any = [{"role": "user", "content": "hello"}]


def test_create_shows_the_full_key_once(owner: Owner) -> None:
    r = owner.client.post("/api/keys", json={"name": "laptop", "mode": "router"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    created = r.json()
    full = created["fullKey"]
    assert full.startswith("sk-occ-") and len(full) >= 39 and created["keyPrefix"] == full[:15]
    assert LIST_FIELDS <= set(created)
    assert (created["name"], created["mode"], created["isActive"], created["lastUsedAt"]) == (
        "laptop",
        "router",
        True,
        None,
    )
    assert created["hasUpstreamKey"] is False and created["upstreamBaseUrl"] is None
    listing = owner.client.get("/api/keys")
    assert listing.status_code == 200 and full not in listing.text
    (row,) = [k for k in listing.json()["data"] if k["id"] == created["id"]]
    assert LIST_FIELDS <= set(row) and "fullKey" not in row
    assert {k: row[k] for k in LIST_FIELDS} == {k: created[k] for k in LIST_FIELDS}


def test_defaults_limits_and_level(owner: Owner) -> None:
    r = owner.client.post(
        "/api/keys", json={"rpmLimit": 7, "concurrency_limit": 2, "compressionLevel": "lossless"}
    )
    assert r.status_code == 201
    key = r.json()
    assert (key["name"], key["mode"], key["rpmLimit"], key["concurrencyLimit"], key["compressionLevel"]) == (
        "default",
        "router",
        7,
        2,
        "lossless",
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"mode": "proxy"}, "mode"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": ["x"]}, "name"),
        ({"rpmLimit": 0}, "rpm_limit"),
        ({"rpmLimit": "5"}, "rpmLimit"),
        ({"concurrencyLimit": True}, "concurrencyLimit"),
        ({"compressionLevel": "max"}, "compression_level"),
        ({"mode": "router", "upstreamBaseUrl": "https://api.example.com/v1"}, "mode"),
        ({"mode": "router", "upstreamApiKey": "sk-x"}, "mode"),
        ({"name": "x", "fullKey": "sk-occ-mine"}, "fullKey"),
        ({"upstreamApiKey": "a", "upstream_api_key": "b", "mode": "byok"}, "upstreamApiKey"),
    ],
)
def test_bad_key_input_is_400(owner: Owner, body: dict[str, Any], param: str) -> None:
    err = error_of(owner.client.post("/api/keys", json=body), 400)
    assert err["param"] == param
    assert owner.client.get("/api/keys").json()["data"] == []


def test_sixth_active_key_is_refused_until_one_is_revoked(owner: Owner) -> None:
    ids = [owner.client.post("/api/keys", json={"name": f"k{i}"}).json()["id"] for i in range(5)]
    err = error_of(owner.client.post("/api/keys", json={"name": "sixth"}), 400)
    assert err["code"] == "too_many_keys" and "at most 5 active keys" in err["message"]
    assert owner.client.delete(f"/api/keys/{ids[0]}").status_code == 200
    assert owner.client.post("/api/keys", json={"name": "sixth"}).status_code == 201
    listing = owner.client.get("/api/keys").json()["data"]
    assert len(listing) == 6 and sum(k["isActive"] for k in listing) == 5


def test_revoke_is_soft_idempotent_and_immediate(console: Gateway, owner: Owner) -> None:
    created = owner.client.post("/api/keys", json={"name": "app"}).json()
    client = console.client(created["fullKey"])
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    r = owner.client.delete(f"/api/keys/{created['id']}")
    assert r.status_code == 200 and r.json()["isActive"] is False and "fullKey" not in r.json()
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert owner.client.delete(f"/api/keys/{created['id']}").json()["isActive"] is False
    (row,) = owner.client.get("/api/keys").json()["data"]
    assert row["id"] == created["id"] and row["isActive"] is False  # still listed: a soft delete


def test_last_used_at_shows_up_after_a_request(console: Gateway, owner: Owner) -> None:
    created = owner.client.post("/api/keys", json={"name": "used"}).json()
    idle = owner.client.post("/api/keys", json={"name": "idle"}).json()
    console.client(created["fullKey"]).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    rows = {k["id"]: k for k in owner.client.get("/api/keys").json()["data"]}
    used_at = rows[created["id"]]["lastUsedAt"]
    assert used_at is not None and used_at >= created["createdAt"]
    assert rows[idle["id"]]["lastUsedAt"] is None


def test_accounts_never_see_each_others_keys(console: Gateway, owner: Owner) -> None:
    other = console.seed(usd="1.00")
    assert all(k["id"] != other.key_id for k in owner.client.get("/api/keys").json()["data"])
    err = error_of(owner.client.delete(f"/api/keys/{other.key_id}"), 404)
    assert err["code"] == "not_found" and other.key_id in err["message"]
    error_of(owner.client.delete("/api/keys/key_doesnotexist"), 404)
    with console.admin() as admin:
        listing = admin.get("/api/keys", params={"account_id": other.account_id}).json()["data"]
        assert [k["id"] for k in listing] == [other.key_id]
        error_of(admin.delete(f"/api/keys/{other.key_id}", params={"account_id": owner.account_id}), 404)
    # the other account's key still works
    console.client(other.key).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
