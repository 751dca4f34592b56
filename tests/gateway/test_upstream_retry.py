"""A connection failure before any byte is retried once; a second failure is a 502."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from support.flaky_proxy import FlakyProxy
from support.gateway import running_gateway

MESSAGES = [{"role": "user", "content": "hello"}]


def test_first_connection_reset_is_retried_once(simulator: Any, tmp_path: Path) -> None:
    port = urlparse(simulator.base_url).port
    assert port is not None
    with FlakyProxy(port, drop_first=1) as proxy:
        with running_gateway(tmp_path, f"http://127.0.0.1:{proxy.port}/v1") as gw:
            seeded = gw.seed(usd="1.00")
            completion = gw.client(seeded.key).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            assert completion.choices[0].message.content
            assert proxy.connections == 2


def test_two_connection_resets_give_502(simulator: Any, tmp_path: Path) -> None:
    port = urlparse(simulator.base_url).port
    assert port is not None
    with FlakyProxy(port, drop_first=2) as proxy:
        with running_gateway(tmp_path, f"http://127.0.0.1:{proxy.port}/v1") as gw:
            seeded = gw.seed(usd="1.00")
            with gw.http() as c:
                r = c.post(
                    "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {seeded.key}"},
                    json={"model": "gpt-4o-mini", "messages": MESSAGES},
                )
            assert r.status_code == 502
            assert r.json()["error"]["type"] == "upstream_error"
            assert r.json()["error"]["code"] == "upstream_disconnected"
            assert proxy.connections == 2
            assert gw.balance(seeded.account_id) == 1_000_000
