"""Which upstream serves a request: the operator's (router mode) or the key owner's (BYOK).

Router keys always use the operator's upstream; ``x-upstream-*`` headers are ignored for them,
so a router key can never redirect the operator's provider key elsewhere.

BYOK keys use the base URL and provider key stored with the key (decrypted here, for this one
request, and never logged). Per-request headers override them for that request only and are
never stored: ``x-upstream-key`` alone swaps the provider key (sent to the stored URL);
``x-upstream-base-url`` must come with ``x-upstream-key`` — the stored provider key is only
ever sent to the stored URL, so whoever holds the ``sk-occ`` key cannot point it at their own
server to read the owner's provider key. Every base URL, stored or from a header, passes the
SSRF guard on every request (DNS answers change after a key is created), and the connection
itself re-checks the addresses it connects to (``Upstream.guarded``), so a DNS answer cannot
change between the check and the connect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opencompress.accounts.key_manager import check_provider_key
from opencompress.accounts.ssrf import UNRESOLVABLE
from opencompress.errors import InvalidRequestError, UpstreamError
from opencompress.storage.base import ApiKey
from opencompress.upstream.client import Upstream

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opencompress.gateway.context import AppContext

UPSTREAM_KEY_HEADER = "x-upstream-key"
UPSTREAM_URL_HEADER = "x-upstream-base-url"


async def resolve_upstream(ctx: AppContext, key: ApiKey, headers: Mapping[str, str]) -> Upstream:
    if key.mode == "router":
        return ctx.default_upstream
    override_key = headers.get(UPSTREAM_KEY_HEADER, "").strip()
    override_url = headers.get(UPSTREAM_URL_HEADER, "").strip()
    if override_url and not override_key:
        raise InvalidRequestError(
            "x-upstream-base-url needs x-upstream-key too: the provider key stored with this BYOK key is "
            "only sent to its stored base URL.",
            code="byok_upstream_missing",
            param=UPSTREAM_KEY_HEADER,
        )
    if override_key:
        check_provider_key(override_key, param=UPSTREAM_KEY_HEADER)
    base_url = override_url or key.upstream_base_url or ""
    if not (override_key or key.upstream_key_encrypted):
        raise InvalidRequestError(
            "This is a BYOK key without a stored provider: send your provider key in the x-upstream-key "
            "header (and x-upstream-base-url unless the key stores one).",
            code="byok_upstream_missing",
            param=UPSTREAM_KEY_HEADER,
        )
    if not base_url:  # a provider key came, but no key-stored URL to send it to
        raise InvalidRequestError(
            "This BYOK key stores no provider base URL: send it in the x-upstream-base-url header "
            "along with x-upstream-key.",
            code="byok_upstream_missing",
            param=UPSTREAM_URL_HEADER,
        )
    if override_url:
        base_url = await ctx.upstream_guard.check(override_url, param=UPSTREAM_URL_HEADER)
    else:
        base_url = await _check_stored(ctx, base_url)
    if override_key:
        api_key = override_key
    else:
        assert key.upstream_key_encrypted is not None
        api_key = ctx.byok.decrypt(key.upstream_key_encrypted, account_id=key.account_id)
    return Upstream(base_url=base_url, api_key=api_key, guarded=not ctx.upstream_guard.allow_private)


async def _check_stored(ctx: AppContext, base_url: str) -> str:
    """A stored URL that no longer resolves is the provider's outage (502), not bad input."""
    try:
        return await ctx.upstream_guard.check(base_url, param="upstreamBaseUrl")
    except InvalidRequestError as exc:
        if exc.code == UNRESOLVABLE:
            raise UpstreamError(
                "Could not resolve the upstream host of this BYOK key.", code="upstream_connect_error"
            ) from None
        raise
