"""The SSRF check at connect time: BYOK upstreams connect only to public addresses, re-checked by
the resolver the connection uses (no DNS-rebinding window), and redirects are never followed."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from opencompress.errors import UpstreamError
from opencompress.upstream.client import Upstream, UpstreamClient
from opencompress.upstream.public_resolver import NonPublicAddressError, PublicOnlyResolver

BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()


class FakeDns(AbstractResolver):
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=ip, port=port, family=family, proto=0, flags=0)
            for ip in self.answers[host]
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("answers", "allowed"),
    [
        (["93.184.216.34"], True),
        (["127.0.0.1"], False),
        (["169.254.169.254"], False),
        (["93.184.216.34", "10.0.0.7"], False),  # one private answer refuses the whole name
        (["::ffff:127.0.0.1"], False),
        (["2606:2800:220:1:248:1893:25c8:1946"], True),
    ],
)
def test_resolver_refuses_any_non_public_answer(answers: list[str], allowed: bool) -> None:
    resolver = PublicOnlyResolver(FakeDns({"provider.example": answers}))

    async def go() -> list[ResolveResult]:
        return await resolver.resolve("provider.example", 443)

    if allowed:
        assert [r["host"] for r in asyncio.run(go())] == answers
    else:
        with pytest.raises(NonPublicAddressError):
            asyncio.run(go())


def test_guarded_upstream_cannot_reach_loopback_by_name_but_the_operators_can(simulator: Any) -> None:
    """``localhost`` passes no guard at connect time: the name resolves to 127.0.0.1."""
    by_name = simulator.base_url.replace("127.0.0.1", "localhost")

    async def go() -> tuple[int, str]:
        client = UpstreamClient(connect_timeout_s=5, read_timeout_s=5)
        await client.start()
        try:
            ok = await client.post_chat(Upstream(base_url=by_name, api_key="sk-x"), BODY, request_id="r1")
            status = ok.status
            ok.close()
            with pytest.raises(UpstreamError) as refused:
                await client.post_chat(
                    Upstream(base_url=by_name, api_key="sk-x", guarded=True), BODY, request_id="r2"
                )
            return status, refused.value.code
        finally:
            await client.close()

    status, code = asyncio.run(go())
    assert status == 200
    assert code == "upstream_connect_error"


def test_redirects_are_not_followed() -> None:
    hits: list[str] = []

    async def go() -> UpstreamError:
        async def redirect(request: web.Request) -> web.Response:
            hits.append("redirect")
            raise web.HTTPTemporaryRedirect("/elsewhere/chat/completions")

        async def elsewhere(request: web.Request) -> web.Response:
            hits.append(f"elsewhere {request.headers.get('Authorization')}")
            return web.json_response({"choices": []})

        app = web.Application()
        app.router.add_post("/v1/chat/completions", redirect)
        app.router.add_post("/elsewhere/chat/completions", elsewhere)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        client = UpstreamClient(connect_timeout_s=5, read_timeout_s=5)
        try:
            upstream = Upstream(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-secret")
            with pytest.raises(UpstreamError) as caught:
                await client.post_chat(upstream, BODY, request_id="r1")
            return caught.value
        finally:
            await client.close()
            await runner.cleanup()

    error = asyncio.run(go())
    assert error.code == "upstream_redirect"
    assert hits == ["redirect"], "the provider key must never follow a redirect"
