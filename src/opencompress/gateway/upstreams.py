"""Which upstream serves a request: the operator's (router mode) or the key owner's (BYOK)."""

from __future__ import annotations

from collections.abc import Mapping

from opencompress.errors import InvalidRequestError
from opencompress.storage.base import ApiKey
from opencompress.upstream.client import Upstream

UPSTREAM_KEY_HEADER = "x-upstream-key"
UPSTREAM_URL_HEADER = "x-upstream-base-url"


def resolve_upstream(key: ApiKey, headers: Mapping[str, str], *, default: Upstream) -> Upstream:
    if key.mode == "router":
        return default
    override_key = headers.get(UPSTREAM_KEY_HEADER, "").strip()
    override_url = headers.get(UPSTREAM_URL_HEADER, "").strip()
    base_url = override_url or key.upstream_base_url or ""
    if not base_url or not override_key:
        raise InvalidRequestError(
            "This is a BYOK key: send your provider key in the x-upstream-key header "
            "(and x-upstream-base-url unless the key stores one).",
            code="byok_upstream_missing",
        )
    return Upstream(base_url=base_url, api_key=override_key)
