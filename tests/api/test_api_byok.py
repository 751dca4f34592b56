"""BYOK end to end: encrypted at rest, decrypted only to forward, header overrides, SSRF guard,
charged the fee only."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from opencompress.billing.formula import fee_micros
from opencompress.simulator.state import key_fingerprint
from support.gateway import ADMIN_TOKEN, OWNER_PASSWORD, Gateway, Owner, error_of, running_gateway

PROVIDER_KEY = "sk-provider-byok-SECRET-4f9a2c"
ITEMS = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(40)]


def _messages(marker: str) -> Any:
    """A pretty-printed JSON tool result: compression minifies it, so it saves tokens (fee > 0)."""
    return [
        {"role": "user", "content": "Summarise:"},
        {
            "role": "tool",
            "tool_call_id": "c",
            "content": json.dumps({"marker": marker, "items": ITEMS}, indent=4),
        },
        {"role": "user", "content": "How many items are there?"},
    ]


def _sim_entry(gw: Gateway, marker: str) -> dict[str, Any]:
    hits = [r for r in gw.sim_requests() if marker in json.dumps(r.get("body"))]
    assert len(hits) == 1, f"expected one upstream request carrying {marker}"
    return hits[0]


def _usage_row(gw: Gateway, account_id: str, request_id: str) -> Any:
    (row,) = [u for u in gw.usage(account_id) if u.request_id == request_id]
    return row


def _create_byok(owner: Owner, base_url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": "mine",
        "mode": "byok",
        "upstreamBaseUrl": base_url,
        "upstreamApiKey": PROVIDER_KEY,
        **extra,
    }
    r = owner.client.post("/api/keys", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def test_byok_request_forwards_the_decrypted_key_and_charges_the_fee_only(
    console: Gateway, owner: Owner
) -> None:
    created = _create_byok(owner, console.sim_url + "/v1/")
    assert created["mode"] == "byok" and created["hasUpstreamKey"] is True
    assert created["upstreamBaseUrl"] == console.sim_url + "/v1"
    assert PROVIDER_KEY not in json.dumps(created) and "upstreamApiKey" not in created
    listing = owner.client.get("/api/keys").text
    assert PROVIDER_KEY not in listing

    client = console.client(created["fullKey"])
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=_messages("byok-1"))
    completion = raw.parse()
    assert completion.id.startswith("gen-") and "x-opencompress-upstream" not in raw.headers

    upstream = _sim_entry(console, "byok-1")
    assert upstream["authorization"]["sha256_prefix"] == key_fingerprint(PROVIDER_KEY)
    assert upstream["authorization"]["scheme"] == "Bearer"

    row = _usage_row(console, owner.account_id, completion.id)
    assert row.mode == "byok" and row.savings_micros > 0 and row.actual_cost_micros > row.fee_micros
    assert row.fee_micros == fee_micros(row.savings_micros, 20)
    assert row.charged_micros == row.fee_micros  # not actual_cost + fee
    api_row = owner.client.get(f"/api/usage/{completion.id}").json()
    assert (api_row["mode"], api_row["chargedMicros"], api_row["feeMicros"]) == (
        "byok",
        row.fee_micros,
        row.fee_micros,
    )
    assert console.balance(owner.account_id) == 5_000_000 - row.fee_micros


def test_provider_key_is_only_ciphertext_at_rest(console: Gateway, owner: Owner) -> None:
    created = _create_byok(owner, console.sim_url + "/v1")
    db = Path(console.settings.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        (blob,) = conn.execute(
            "SELECT upstream_key_encrypted FROM api_keys WHERE id = ?", (created["id"],)
        ).fetchone()
    assert isinstance(blob, bytes) and blob[:1] == b"\x01" and PROVIDER_KEY.encode() not in blob
    for path in db.parent.glob(db.name + "*"):  # the database and its WAL
        assert PROVIDER_KEY.encode() not in path.read_bytes()
    key_file = Path(console.settings.secret_key_file)
    assert key_file.exists() and stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_header_overrides_apply_to_one_request_and_are_never_stored(console: Gateway, owner: Owner) -> None:
    created = _create_byok(owner, console.sim_url + "/v1")
    client = console.client(created["fullKey"])
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=_messages("override-1"),
        extra_headers={"x-upstream-key": "sk-one-off-key"},
    )
    assert _sim_entry(console, "override-1")["authorization"]["sha256_prefix"] == key_fingerprint(
        "sk-one-off-key"
    )
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=_messages("override-2"),
        extra_headers={"x-upstream-key": "sk-other-key", "x-upstream-base-url": console.sim_url + "/v1"},
    )
    assert _sim_entry(console, "override-2")["authorization"]["sha256_prefix"] == key_fingerprint(
        "sk-other-key"
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=_messages("override-3"))
    assert _sim_entry(console, "override-3")["authorization"]["sha256_prefix"] == key_fingerprint(
        PROVIDER_KEY
    )
    (row,) = [k for k in owner.client.get("/api/keys").json()["data"] if k["id"] == created["id"]]
    assert row["upstreamBaseUrl"] == console.sim_url + "/v1"


def test_stored_provider_key_is_never_sent_to_a_header_url(console: Gateway, owner: Owner) -> None:
    created = _create_byok(owner, console.sim_url + "/v1")
    r = httpx.post(
        console.base_url + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": _messages("redirect")},
        headers={
            "Authorization": f"Bearer {created['fullKey']}",
            "x-upstream-base-url": "http://127.0.0.1:9/v1",
        },
        timeout=30,
    )
    err = error_of(r, 400)
    assert err["code"] == "byok_upstream_missing" and "x-upstream-key" in err["message"]


def test_byok_key_without_a_stored_provider_needs_headers(console: Gateway, owner: Owner) -> None:
    created = owner.client.post("/api/keys", json={"name": "bare", "mode": "byok"}).json()
    assert created["hasUpstreamKey"] is False and created["upstreamBaseUrl"] is None
    client = console.client(created["fullKey"])
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="gpt-4o-mini", messages=_messages("bare-0"))
    assert "x-upstream-key" in str(err.value)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=_messages("bare-1"),
        extra_headers={"x-upstream-key": "sk-header-only", "x-upstream-base-url": console.sim_url + "/v1"},
    )
    assert _sim_entry(console, "bare-1")["authorization"]["sha256_prefix"] == key_fingerprint(
        "sk-header-only"
    )


def test_router_keys_ignore_upstream_headers(console: Gateway) -> None:
    key = console.seed(usd="1.00").key
    console.client(key).chat.completions.create(
        model="gpt-4o-mini",
        messages=_messages("router-headers"),
        extra_headers={"x-upstream-key": "sk-attacker", "x-upstream-base-url": "http://169.254.169.254/v1"},
    )
    auth = _sim_entry(console, "router-headers")["authorization"]
    assert auth["sha256_prefix"] == key_fingerprint(console.settings.upstream_api_key)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"upstreamBaseUrl": "ftp://files.example.com"}, "upstreamBaseUrl"),
        ({"upstreamBaseUrl": "https://user:pw@api.example.com/v1"}, "upstreamBaseUrl"),
        ({"upstreamApiKey": "has spaces in it"}, "upstreamApiKey"),
        ({"upstreamApiKey": ""}, "upstreamApiKey"),
        ({"upstreamBaseUrl": None}, "upstreamBaseUrl"),
    ],
)
def test_bad_byok_input_is_400(console: Gateway, owner: Owner, extra: dict[str, Any], param: str) -> None:
    body = {
        "mode": "byok",
        "upstreamBaseUrl": console.sim_url + "/v1",
        "upstreamApiKey": PROVIDER_KEY,
        **extra,
    }
    err = error_of(owner.client.post("/api/keys", json=body), 400)
    assert err["param"] == param and PROVIDER_KEY not in err["message"]


# --- the SSRF guard as operators get it by default (private upstreams NOT allowed) ---


@pytest.fixture(scope="module")
def guarded(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("guarded"), simulator.base_url, admin_token=ADMIN_TOKEN
    ) as gw:
        assert gw.settings.allow_private_upstreams is False
        yield gw


@pytest.fixture(scope="module")
def guarded_owner(guarded: Gateway) -> Iterator[Owner]:
    account_id = guarded.create_owner(email="guarded@example.com", password=OWNER_PASSWORD)
    client = guarded.sign_in("guarded@example.com", OWNER_PASSWORD)
    try:
        yield Owner(account_id, "guarded@example.com", client)
    finally:
        client.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/v1",
        "http://localhost:{port}/v1",
        "http://[::1]:{port}/v1",
        "http://169.254.169.254/latest",
        "http://10.0.0.5/v1",
        "http://192.168.0.10:8000/v1",
        "http://[::ffff:127.0.0.1]:{port}/v1",
        "http://0.0.0.0:{port}/v1",
    ],
)
def test_private_base_urls_are_refused_by_default(guarded: Gateway, guarded_owner: Owner, url: str) -> None:
    target = url.format(port=guarded.sim_url.rsplit(":", 1)[1])
    r = guarded_owner.client.post(
        "/api/keys", json={"mode": "byok", "upstreamBaseUrl": target, "upstreamApiKey": PROVIDER_KEY}
    )
    err = error_of(r, 400)
    assert err["code"] == "upstream_url_blocked" and err["param"] == "upstreamBaseUrl"


def test_public_base_url_is_accepted_and_header_overrides_are_guarded(
    guarded: Gateway, guarded_owner: Owner
) -> None:
    created = guarded_owner.client.post(
        "/api/keys",
        json={"mode": "byok", "upstreamBaseUrl": "https://93.184.216.34/v1", "upstreamApiKey": "sk-p"},
    )
    assert created.status_code == 201, created.text
    before = len(guarded.sim_requests())
    for target in ("http://127.0.0.1:1/v1", "http://169.254.169.254/v1", "http://[fe80::1]/v1"):
        r = httpx.post(
            guarded.base_url + "/chat/completions",
            json={"model": "gpt-4o-mini", "messages": _messages("blocked")},
            headers={
                "Authorization": f"Bearer {created.json()['fullKey']}",
                "x-upstream-key": "sk-x",
                "x-upstream-base-url": target,
            },
            timeout=30,
        )
        err = error_of(r, 400)
        assert err["code"] == "upstream_url_blocked" and err["param"] == "x-upstream-base-url"
    assert len(guarded.sim_requests()) == before  # nothing was forwarded anywhere


def test_byok_upstream_refusals_reach_the_client_untouched(console: Gateway, owner: Owner) -> None:
    """With BYOK the provider key is the client's own: its 401 (and the ids in it) are the client's
    business, unlike router mode, where the operator's refusal becomes a 502."""
    created = _create_byok(owner, console.sim_url + "/v1")
    message = "Incorrect API key provided: sk-prov*****c (organization org-AbCdEf123456)."
    client = console.client(created["fullKey"]).with_options(max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.chat.completions.create(
            model="gpt-4o",
            messages=_messages("byok-401"),
            extra_body={"simulate": {"fault": "status", "status": 401, "message": message}},
        )
    assert info.value.message.endswith(message) and info.value.code == "invalid_api_key"
