"""POST /v1/compress: compression without a model call, single and batch."""

from __future__ import annotations

import json

import pytest

from support.gateway import Gateway

PRETTY = json.dumps({"rows": [{"id": i, "name": f"n{i}"} for i in range(30)]}, indent=2)


@pytest.fixture(scope="module")
def key(gateway: Gateway) -> str:
    return gateway.seed(usd="1.00").key


def test_single_request(gateway: Gateway, key: str) -> None:
    before = len(gateway.sim_requests())
    with gateway.http() as c:
        r = c.post(
            "/v1/compress",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "messages": [
                    {"role": "tool", "tool_call_id": "x", "content": PRETTY},
                    {"role": "user", "content": "count rows"},
                ],
                "compression": {"level": "lossless"},
            },
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "lossless"
    assert body["compressed_tokens"] < body["original_tokens"]
    assert json.loads(body["messages"][0]["content"]) == json.loads(PRETTY)
    assert body["messages"][1]["content"] == "count rows"
    assert len(gateway.sim_requests()) == before, "no model call"


def test_batch_and_limits(gateway: Gateway, key: str) -> None:
    item = {"messages": [{"role": "user", "content": "hello   world"}]}
    with gateway.http() as c:
        r = c.post("/api/compress", headers={"x-api-key": key}, json={"requests": [item] * 3})
        assert r.status_code == 200
        assert [d["object"] for d in r.json()["data"]] == ["compression"] * 3
        too_many = c.post("/v1/compress", headers={"x-api-key": key}, json={"requests": [item] * 51})
        assert too_many.status_code == 400
        bad = c.post("/v1/compress", headers={"x-api-key": key}, json={"requests": [{"messages": []}]})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "requests[0].messages"
        unauth = c.post("/v1/compress", json=item)
        assert unauth.status_code == 401
