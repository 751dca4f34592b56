"""BYOK upstream resolution in isolation: which URL and key a request gets, and every refusal."""

from __future__ import annotations

import asyncio
import os
from types import SimpleNamespace
from typing import Any

import pytest

from opencompress.accounts.byok import ByokCipher, ByokKeyUnreadableError
from opencompress.accounts.ssrf import UpstreamGuard
from opencompress.errors import InvalidRequestError, UpstreamError
from opencompress.gateway.upstreams import resolve_upstream
from opencompress.storage.base import ApiKey
from opencompress.upstream.client import Upstream

DNS = {"api.provider.example": ["93.184.216.34"], "inside.example": ["10.0.0.7"]}
DEFAULT = Upstream(base_url="https://operator.example/v1", api_key="sk-operator")


def ctx() -> Any:
    async def resolver(host: str, port: int) -> list[str]:
        if host not in DNS:
            raise OSError("NXDOMAIN")
        return DNS[host]

    cipher = ByokCipher.from_key(os.urandom(32))
    return SimpleNamespace(
        default_upstream=DEFAULT,
        byok=cipher,
        upstream_guard=UpstreamGuard(allow_private=False, resolver=resolver),
    )


def key(c: Any, *, mode: str = "byok", url: str | None = None, secret: str | None = None) -> ApiKey:
    return ApiKey(
        id="key_1",
        account_id="acct_1",
        name="k",
        prefix="sk-occ-abcdefgh",
        mode=mode,  # type: ignore[arg-type]
        is_active=True,
        created_at=0.0,
        upstream_base_url=url,
        upstream_key_encrypted=None if secret is None else c.byok.encrypt(secret, account_id="acct_1"),
    )


def resolve(c: Any, k: ApiKey, **headers: str) -> Upstream:
    return asyncio.run(resolve_upstream(c, k, {name.replace("_", "-"): v for name, v in headers.items()}))


def test_router_keys_get_the_operator_upstream_whatever_the_headers() -> None:
    c = ctx()
    assert (
        resolve(c, key(c, mode="router"), x_upstream_key="sk-x", x_upstream_base_url="http://10.0.0.1")
        is DEFAULT
    )


def test_stored_provider_is_decrypted_for_the_stored_url() -> None:
    c = ctx()
    up = resolve(c, key(c, url="https://api.provider.example/v1", secret="sk-stored"))
    assert (up.base_url, up.api_key) == ("https://api.provider.example/v1", "sk-stored")
    assert "sk-stored" not in repr(up)
    assert up.guarded, "a user-chosen URL is re-checked at connect time"
    assert not DEFAULT.guarded
    c.upstream_guard.allow_private = True  # the operator allowed private upstreams
    assert not resolve(c, key(c, url="https://api.provider.example/v1", secret="sk-stored")).guarded


def test_overrides() -> None:
    c = ctx()
    k = key(c, url="https://api.provider.example/v1", secret="sk-stored")
    assert resolve(c, k, x_upstream_key="sk-once").api_key == "sk-once"
    both = resolve(c, k, x_upstream_key="sk-once", x_upstream_base_url="https://api.provider.example/alt/")
    assert (both.base_url, both.api_key) == ("https://api.provider.example/alt", "sk-once")


@pytest.mark.parametrize(
    ("stored", "headers", "code"),
    [
        (
            {"url": "https://api.provider.example/v1", "secret": "s"},
            {"x_upstream_base_url": "https://x.example"},
            "byok_upstream_missing",
        ),
        ({}, {}, "byok_upstream_missing"),
        ({}, {"x_upstream_key": "sk-only-a-key"}, "byok_upstream_missing"),
        ({"url": "https://api.provider.example/v1"}, {}, "byok_upstream_missing"),
        (
            {},
            {"x_upstream_key": "sk-k", "x_upstream_base_url": "http://inside.example/v1"},
            "upstream_url_blocked",
        ),
        (
            {},
            {"x_upstream_key": "sk-k", "x_upstream_base_url": "https://unknown.example/v1"},
            "upstream_unresolvable",
        ),
        (
            {},
            {"x_upstream_key": "bad key", "x_upstream_base_url": "https://api.provider.example"},
            "invalid_request",
        ),
        ({"url": "http://inside.example/v1", "secret": "s"}, {}, "upstream_url_blocked"),
    ],
)
def test_refusals_are_400(stored: dict[str, str], headers: dict[str, str], code: str) -> None:
    c = ctx()
    with pytest.raises(InvalidRequestError) as err:
        resolve(c, key(c, **stored), **headers)
    assert err.value.code == code and err.value.status == 400


def test_stored_url_that_stopped_resolving_is_a_502() -> None:
    c = ctx()
    with pytest.raises(UpstreamError) as err:
        resolve(c, key(c, url="https://gone.example/v1", secret="s"))
    assert err.value.status == 502


def test_undecryptable_stored_key_is_a_500_without_secrets() -> None:
    c = ctx()
    k = key(c, url="https://api.provider.example/v1", secret="sk-stored")
    other = ctx()  # another gateway secret
    other.upstream_guard = c.upstream_guard
    with pytest.raises(ByokKeyUnreadableError) as err:
        resolve(other, k)
    assert err.value.status == 500 and "sk-stored" not in err.value.message
    assert resolve(other, k, x_upstream_key="sk-header").api_key == "sk-header"  # headers still work


@pytest.mark.parametrize(
    ("headers", "param", "says"),
    [
        ({}, "x-upstream-key", "send your provider key in the x-upstream-key header"),
        (
            {"x_upstream_key": "sk-only-a-key"},
            "x-upstream-base-url",
            "send it in the x-upstream-base-url header",
        ),
    ],
)
def test_a_missing_provider_names_what_is_missing(headers: dict[str, str], param: str, says: str) -> None:
    """A key sent without a URL used to be told to send the key it had just sent."""
    c = ctx()
    with pytest.raises(InvalidRequestError) as err:
        resolve(c, key(c), **headers)
    assert err.value.param == param and says in str(err.value)
