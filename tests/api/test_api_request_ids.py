"""Every answer of the JSON API carries an ``x-request-id``, as OpenAI's does, and browsers can read it.

A user quoting an id from a failed ``models.list()`` or a 404 must be able to find it in the
gateway's logs, so the id is the one the request's log line carries (``gen-`` + 24 url-safe
characters, the format chat answers already use), one per request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from opencompress.config import Settings
from opencompress.http.app import create_app
from support.gateway import Gateway, Owner
from support.server import ServerThread

REQUEST_ID = re.compile(r"gen-[A-Za-z0-9_-]{24}")
ORIGIN = "http://localhost:3000"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def request_id(r: httpx.Response) -> str:
    value = r.headers.get("x-request-id")
    assert value is not None, (r.request.method, r.request.url.path, r.status_code, dict(r.headers))
    assert REQUEST_ID.fullmatch(value), value
    return value


@pytest.fixture(scope="module")
def key(console: Gateway) -> str:
    return console.seed(usd="1.00").key


def test_the_sdk_sees_a_fresh_request_id_on_model_listing_and_retrieval(console: Gateway, key: str) -> None:
    client = console.client(key)
    first = client.models.with_raw_response.list()
    second = client.models.with_raw_response.list()
    found = client.models.with_raw_response.retrieve("gpt-4o-mini")
    assert found.parse().id == "gpt-4o-mini" and first.parse().data
    ids = [raw.headers.get("x-request-id") for raw in (first, second, found)]
    assert all(i is not None and REQUEST_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == 3
    with pytest.raises(openai.NotFoundError) as missing:  # an unknown path under /v1, as the SDK meets it
        client.get("/no-such-route", cast_to=object)
    assert REQUEST_ID.fullmatch(missing.value.response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/health", 200),
        ("GET", "/api/config", 200),
        ("GET", "/api/v1/models", 200),
        ("GET", "/api/v1/models/gpt-4o-mini", 200),
        ("GET", "/metrics", 200),
        ("GET", "/v1/no-such-route", 404),
        ("GET", "/api/v1/no-such-route", 404),
        ("DELETE", "/v1/models", 405),
        ("GET", "/v1/chat/completions", 405),
        ("POST", "/v1/chat/completions", 401),
        ("GET", "/api/balance", 401),
    ],
)
def test_public_routes_and_errors_carry_a_request_id(
    console: Gateway, method: str, path: str, status: int
) -> None:
    with console.http() as http:
        r = http.request(method, path, json=CHAT if method == "POST" else None)
    assert r.status_code == status, r.text
    request_id(r)


def test_console_and_operator_answers_carry_a_request_id(console: Gateway, owner: Owner) -> None:
    answers = [
        owner.client.get("/api/keys"),
        owner.client.post("/api/keys", json={"name": "ids"}),
        owner.client.get("/api/balance"),
        owner.client.get("/api/usage"),
        owner.client.get("/api/usage/summary"),
        owner.client.get("/api/usage.csv"),
        owner.client.get("/api/me"),
    ]
    with console.admin() as admin:
        answers.append(admin.get("/admin/accounts"))
        answers.append(
            admin.post(f"/admin/accounts/{owner.account_id}/password", json={"password": "x" * 12})
        )
    assert [r.status_code for r in answers] == [200, 201, 200, 200, 200, 200, 200, 200, 204], [
        (r.request.url.path, r.status_code, r.text) for r in answers
    ]
    ids = [request_id(r) for r in answers]
    assert len(set(ids)) == len(ids)


def test_chat_keeps_its_own_id_which_is_the_completion_id(console: Gateway, key: str) -> None:
    raw = console.client(key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers.get_list("x-request-id") == [raw.parse().id]
    assert REQUEST_ID.fullmatch(raw.parse().id)
    with console.http() as http:
        with http.stream(
            "POST",
            "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as streamed:
            first_chunk = next(line for line in streamed.iter_lines() if line.startswith("data: {"))
    assert streamed.status_code == 200
    assert streamed.headers.get_list("x-request-id") == [json.loads(first_chunk[6:])["id"]]


def test_ids_are_unique_per_request(console: Gateway) -> None:
    with console.http() as http:
        ids = [request_id(http.get(path)) for path in ("/health", "/v1/models", "/v1/nope") * 5]
    assert len(set(ids)) == len(ids)


def test_a_cors_preflight_carries_a_request_id(console: Gateway) -> None:
    r = httpx.options(
        console.server.url + "/v1/models",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    request_id(r)


@pytest.fixture(scope="module")
def builtin_simulator_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway with no upstream configured: its answers also say ``x-opencompress-upstream``."""
    tmp: Path = tmp_path_factory.mktemp("ids-builtin")
    settings = Settings.load(env={}).replace(
        database_url=f"sqlite:///{tmp / 'gateway.db'}",
        upstream_base_url="",
        dev_mode=False,
        secret_key_file=str(tmp / "secret.key"),
    )
    app = create_app(settings)
    with ServerThread(app) as server:
        yield Gateway(server, settings, "", app)


def test_cors_exposes_every_header_the_gateway_sets(
    console: Gateway, builtin_simulator_gateway: Gateway
) -> None:
    from opencompress.gateway.headers import RESPONSE_HEADERS

    def exposed(r: httpx.Response) -> set[str]:
        assert r.headers["access-control-allow-origin"] == "*"
        return {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}

    def gateway_headers(r: httpx.Response) -> set[str]:
        own = {h.lower() for h in r.headers}
        return {
            h for h in own if h.startswith(("x-request-id", "x-opencompress-", "x-ratelimit-", "retry-after"))
        }

    limited = console.seed(usd="1.00", rpm=1).key
    seen: set[str] = set()
    with httpx.Client(base_url=console.server.url, timeout=30, headers={"Origin": ORIGIN}) as http:
        auth = {"Authorization": f"Bearer {limited}"}
        ok = http.post("/v1/chat/completions", json=CHAT, headers=auth)
        refused = http.post("/v1/chat/completions", json=CHAT, headers=auth)
        models = http.get("/v1/models")
    assert (ok.status_code, refused.status_code, models.status_code) == (200, 429, 200), refused.text
    for r in (ok, refused, models):
        assert set(RESPONSE_HEADERS) <= exposed(r)
        seen |= gateway_headers(r)
    # A gateway with no upstream adds x-opencompress-upstream: it has to be in the tuple as well.
    builtin = builtin_simulator_gateway
    sim_key = builtin.seed(usd="1.00").key
    with httpx.Client(base_url=builtin.server.url, timeout=30, headers={"Origin": ORIGIN}) as http:
        sim_ok = http.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {sim_key}"})
    assert sim_ok.status_code == 200 and sim_ok.headers["x-opencompress-upstream"] == "simulator"
    assert set(RESPONSE_HEADERS) <= exposed(sim_ok)
    seen |= gateway_headers(sim_ok)
    assert seen <= set(RESPONSE_HEADERS), seen - set(RESPONSE_HEADERS)
    assert {"x-request-id", "retry-after", "x-opencompress-compressed-tokens"} <= seen
