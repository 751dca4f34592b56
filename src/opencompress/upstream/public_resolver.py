"""A DNS resolver for user-chosen upstreams that only ever hands out public addresses.

The SSRF guard (:mod:`opencompress.accounts.ssrf`) checks a BYOK base URL before the request,
but the HTTP client used to resolve the name again when it connected. An attacker controlling
the DNS of their "provider" could answer the guard with a public address and the connect, a
moment later, with 127.0.0.1 or 169.254.169.254 (DNS rebinding). Here the check moves into the
resolver the connection itself uses, so the addresses checked are exactly the addresses
connected to: there is no second lookup to race.

A name with any non-public address is refused as a whole (not filtered), like the guard does:
a name listing a public and a private address together is an attack, not a fallback. The
refusal is an ``OSError``, which aiohttp reports as a connection error (a 502 to the client),
and which the guard would normally have turned into a clear 400 a moment earlier.

IP-literal URLs never reach a resolver (aiohttp connects to them directly); they cannot rebind,
and the guard has already judged them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from opencompress.accounts.ssrf import IPAddress, is_public_address


class NonPublicAddressError(OSError):
    """The upstream host resolved to a loopback, private or otherwise non-public address."""


class PublicOnlyResolver(AbstractResolver):
    def __init__(
        self,
        inner: AbstractResolver | None = None,
        *,
        is_allowed: Callable[[IPAddress], bool] = is_public_address,
    ) -> None:
        self._inner = inner if inner is not None else DefaultResolver()
        self._is_allowed = is_allowed

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                ip = ipaddress.ip_address(str(result["host"]).split("%", 1)[0])
            except ValueError:
                raise NonPublicAddressError(f"unparseable address for upstream host {host!r}") from None
            if not self._is_allowed(ip):
                raise NonPublicAddressError(f"upstream host {host!r} resolved to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()
