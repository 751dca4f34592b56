"""SSRF guard for user-chosen upstream base URLs (BYOK keys and ``x-upstream-base-url``).

A BYOK user picks where the gateway sends requests, so without a guard any key holder could make
the gateway call its own admin ports, a cloud metadata service (169.254.169.254) or the private
network. The guard accepts only ``http(s)://host[:port][/path]`` without credentials, query or
fragment, resolves the host (``getaddrinfo`` in a worker thread, like any resolver call) and
refuses the URL when *any* address is loopback, private, link-local, multicast, reserved,
unspecified or otherwise not globally routable — including IPv4 addresses wrapped in IPv6
(``::ffff:127.0.0.1``, 6to4, NAT64, Teredo). Checking every address, not the first, defeats a
name that lists a public and a private address together.

Verdicts are cached per ``(host, port)`` for a minute, so a BYOK request pays for DNS at most
once a minute. This check gives a clear 400 up front; it is not the last line: the upstream
client resolves the name again when it connects, and for these URLs it does so through
:class:`opencompress.upstream.public_resolver.PublicOnlyResolver`, which applies
:func:`is_public_address` to the very addresses it connects to (no DNS-rebinding window).

``allow_private=True`` (``OPENCOMPRESS_ALLOW_PRIVATE_UPSTREAMS``) keeps the URL-shape checks and
skips the address checks, for operators whose providers live on their own network (and tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from opencompress.errors import InvalidRequestError

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port)`` → every IP address (as text) the host resolves to."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Refusal = tuple[str, str]
"""``(error code, message)``."""

BLOCKED = "upstream_url_blocked"
UNRESOLVABLE = "upstream_unresolvable"
MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_S = 5.0
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo client), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (and their IPv6 wrappings)."""
    inner = embedded_ipv4(ip)
    if inner is not None and not is_public_address(inner):
        return False
    blocked = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )
    return not blocked


def parse_base_url(url: str, *, param: str) -> tuple[str, str, int]:
    """``(normalised_url, host, port)`` for an acceptable base URL, else ``InvalidRequestError``."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError("the upstream base URL must be a non-empty string", param=param)
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidRequestError(
            f"the upstream base URL is longer than {MAX_URL_LENGTH} characters", param=param
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InvalidRequestError("the upstream base URL is not a valid URL", param=param) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequestError("the upstream base URL must start with http:// or https://", param=param)
    if not parts.hostname:
        raise InvalidRequestError("the upstream base URL has no host", param=param)
    if parts.username is not None or parts.password is not None:
        raise InvalidRequestError(
            "the upstream base URL must not contain credentials; send the provider key separately",
            param=param,
        )
    if parts.query or parts.fragment or "#" in text:
        raise InvalidRequestError("the upstream base URL must not have a query or fragment", param=param)
    if any(ch.isspace() or ord(ch) < 0x20 for ch in text):
        raise InvalidRequestError("the upstream base URL must not contain whitespace", param=param)
    host = parts.hostname
    normalised = f"{scheme}://{parts.netloc}{parts.path}".rstrip("/")
    return normalised, host, port if port is not None else (443 if scheme == "https" else 80)


class UpstreamGuard:
    """Checks upstream base URLs; one instance per process (it holds the verdict cache)."""

    def __init__(
        self,
        *,
        allow_private: bool,
        resolver: Resolver = system_resolver,
        cache_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_cache: int = 1024,
    ) -> None:
        self.allow_private = allow_private
        self._resolver = resolver
        self._ttl = cache_ttl_s
        self._clock = clock
        self._max_cache = max_cache
        self._cache: dict[tuple[str, int], tuple[float, Refusal | None]] = {}

    async def check(self, url: str, *, param: str = "upstreamBaseUrl") -> str:
        """The normalised URL (no trailing slash) when it is allowed; otherwise ``InvalidRequestError``
        with code :data:`BLOCKED`, :data:`UNRESOLVABLE` or ``invalid_request`` (bad shape)."""
        normalised, host, port = parse_base_url(url, param=param)
        if self.allow_private:
            return normalised
        refusal = await self._verdict(host, port)
        if refusal is not None:
            code, message = refusal
            raise InvalidRequestError(message, code=code, param=param)
        return normalised

    async def _verdict(self, host: str, port: int) -> Refusal | None:
        now = self._clock()
        cached = self._cache.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        refusal = await self._judge(host, port)
        if refusal is None or refusal[0] != UNRESOLVABLE:  # DNS failures are not cached
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            self._cache[(host, port)] = (now + self._ttl, refusal)
        return refusal

    async def _judge(self, host: str, port: int) -> Refusal | None:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                found = await asyncio.wait_for(self._resolver(host, port), RESOLVE_TIMEOUT_S)
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
            except (OSError, TimeoutError, ValueError):
                addresses = []
            if not addresses:
                return UNRESOLVABLE, f"cannot resolve the upstream host {host!r}"
        if all(is_public_address(ip) for ip in addresses):
            return None
        return BLOCKED, (
            f"the upstream host {host!r} is a loopback, private, link-local or otherwise non-public "
            "address; the operator has not allowed private upstreams"
        )
