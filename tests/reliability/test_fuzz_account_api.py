"""Hypothesis against the operator, keys and usage endpoints: whatever the body or query, the answer
is never a 5xx, and every error keeps the OpenAI-style shape. Bounded: a few hundred examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.gateway import ADMIN_TOKEN, Gateway, running_gateway

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "name",
        "email",
        "password",
        "mode",
        "upstreamBaseUrl",
        "upstreamApiKey",
        "amount_usd",
        "amount_micros",
        "reason",
        "initial_credit_usd",
        "initial_credit_micros",
        "rpmLimit",
        "compressionLevel",
    ]
)
BODIES = JSON | st.dictionaries(FIELDS, JSON, max_size=6)
QUERY = st.dictionaries(
    st.sampled_from(["from", "to", "key_id", "model", "cursor", "limit", "group", "format", "account_id"]),
    st.text(max_size=30),
    max_size=5,
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def admin(
    simulator: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, httpx.Client, str]]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-api")
    with running_gateway(tmp, simulator.base_url, admin_token=ADMIN_TOKEN) as gw:
        with httpx.Client(
            base_url=gw.server.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            account = client.post(
                "/admin/accounts", json={"name": "fuzz", "initial_credit_usd": "1.00"}
            ).json()
            yield gw, client, account["id"] if "id" in account else account["account"]["id"]


def _check(r: httpx.Response) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert {"message", "type", "code"} <= set(error)


@SETTINGS
@given(body=BODIES)
def test_admin_endpoints_never_5xx(admin: tuple[Gateway, httpx.Client, str], body: Any) -> None:
    _, client, account_id = admin
    raw = json.dumps(body, allow_nan=True).encode()
    for path in ("/admin/accounts", f"/admin/accounts/{account_id}/credit"):
        _check(client.post(path, content=raw, headers={"content-type": "application/json"}))


@SETTINGS
@given(body=BODIES, key_id=st.text(max_size=20))
def test_key_endpoints_never_5xx(admin: tuple[Gateway, httpx.Client, str], body: Any, key_id: str) -> None:
    _, client, account_id = admin
    raw = json.dumps(body, allow_nan=True).encode()
    params = {"account_id": account_id}
    _check(client.post("/api/keys", content=raw, params=params, headers={"content-type": "application/json"}))
    _check(client.get("/api/keys", params=params))
    _check(client.delete(f"/api/keys/{quote(key_id, safe='')}", params=params))


@SETTINGS
@given(query=QUERY, request_id=st.text(max_size=24))
def test_usage_endpoints_never_5xx(
    admin: tuple[Gateway, httpx.Client, str], query: dict[str, str], request_id: str
) -> None:
    _, client, account_id = admin
    params = {"account_id": account_id, **{k: v for k, v in query.items() if k != "account_id"}}
    for path in ("/api/usage", "/api/usage/summary", "/api/balance", "/api/usage.csv"):
        _check(client.get(path, params=params))
    _check(client.get(f"/api/usage/{quote(request_id, safe='')}", params=params))
