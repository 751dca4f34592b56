"""SSRF guard: URL shape, every resolved address checked, private allowed only when configured."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from opencompress.accounts.ssrf import UpstreamGuard, is_public_address
from opencompress.errors import InvalidRequestError


def _resolver(table: dict[str, list[str]], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


DNS = {
    "api.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.example.com": ["93.184.216.34", "10.1.2.3"],
    "localhost": ["127.0.0.1", "::1"],
    "metadata.internal": ["169.254.169.254"],
}


def check(url: str, *, allow_private: bool = False) -> str:
    guard = UpstreamGuard(allow_private=allow_private, resolver=_resolver(DNS))
    return asyncio.run(guard.check(url))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
        "192.0.2.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(InvalidRequestError) as err:
        check(f"http://{host}:8000/v1")
    assert err.value.code == "upstream_url_blocked" and err.value.param == "upstreamBaseUrl"


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_hostnames_checked_on_every_resolved_address() -> None:
    assert check("https://api.example.com/v1/") == "https://api.example.com/v1"
    for host in ("mixed.example.com", "localhost", "metadata.internal"):
        with pytest.raises(InvalidRequestError) as err:
            check(f"http://{host}/v1")
        assert err.value.code == "upstream_url_blocked"
    with pytest.raises(InvalidRequestError) as missing:
        check("https://nowhere.example.com/v1")
    assert missing.value.code == "upstream_unresolvable"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "ftp://api.example.com/v1",
        "file:///etc/passwd",
        "api.example.com/v1",
        "https://",
        "https://user:pw@api.example.com/v1",
        "https://api.example.com/v1?x=1",
        "https://api.example.com/v1#f",
        "https://api.example.com:99999/v1",
        "https://api.example.com/v 1",
        "https://" + "a" * 3000 + ".com",
    ],
)
def test_bad_shapes_are_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(InvalidRequestError):
        check(url, allow_private=True)


def test_allow_private_skips_address_checks_only() -> None:
    assert check("http://127.0.0.1:9/v1/", allow_private=True) == "http://127.0.0.1:9/v1"
    assert check("HTTP://localhost:8080", allow_private=True) == "http://localhost:8080"


def test_verdicts_are_cached_but_dns_failures_are_not() -> None:
    calls: list[str] = []
    now = [0.0]
    guard = UpstreamGuard(
        allow_private=False, resolver=_resolver(DNS, calls), cache_ttl_s=60, clock=lambda: now[0]
    )

    async def run() -> None:
        for _ in range(3):
            await guard.check("https://api.example.com/v1")
        for _ in range(2):
            with pytest.raises(InvalidRequestError):
                await guard.check("https://localhost/v1")
            with pytest.raises(InvalidRequestError):
                await guard.check("https://nowhere.example.com/v1")
        now[0] = 61.0
        await guard.check("https://api.example.com/v1")

    asyncio.run(run())
    assert calls.count("api.example.com") == 2
    assert calls.count("localhost") == 1
    assert calls.count("nowhere.example.com") == 2


def test_system_resolver_refuses_localhost() -> None:
    with pytest.raises(InvalidRequestError) as err:
        asyncio.run(UpstreamGuard(allow_private=False).check("http://localhost:1/v1"))
    assert err.value.code == "upstream_url_blocked"
