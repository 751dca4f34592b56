"""CORS on the LLM API: what a browser app needs to call the gateway the way it calls OpenAI."""

from __future__ import annotations

import httpx
import pytest

from support.gateway import Gateway

ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.seed(usd="1.00").key


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/v1/compress"])
def test_a_preflight_from_any_origin_allows_the_bearer_header(gateway: Gateway, path: str) -> None:
    r = httpx.options(
        gateway.server.url + path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-stainless-os"} <= allowed
    assert "access-control-allow-credentials" not in r.headers


def test_answers_and_errors_to_a_browser_carry_the_headers_scripts_need(gateway: Gateway, key: str) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    ok = httpx.post(
        gateway.base_url + "/chat/completions",
        json=body,
        headers={"Origin": ORIGIN, "Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "*"
    exposed = ok.headers["access-control-expose-headers"]
    assert "x-request-id" in exposed and "x-opencompress-compressed-tokens" in exposed
    denied = httpx.post(gateway.base_url + "/chat/completions", json=body, headers={"Origin": ORIGIN})
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == "*"


def test_no_cors_for_clients_without_an_origin_or_on_cookie_authenticated_paths(
    gateway: Gateway, key: str
) -> None:
    plain = httpx.get(gateway.base_url + "/models", headers={"Authorization": f"Bearer {key}"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    console = httpx.options(
        gateway.server.url + "/api/keys", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in console.headers
