"""``GET /api/keys``, ``POST /api/keys``, ``DELETE /api/keys/{id}`` for the caller's account."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opencompress.accounts.key_manager import NewKey
from opencompress.accounts.present import key_json
from opencompress.http.auth import context, require_account
from opencompress.http.routes._params import json_body, opt_int, opt_str, respond

_FIELDS = {
    "name": ("name",),
    "mode": ("mode",),
    "upstream_base_url": ("upstreamBaseUrl", "upstream_base_url"),
    "upstream_api_key": ("upstreamApiKey", "upstream_api_key"),
    "compression_level": ("compressionLevel", "compression_level"),
}
_INTS = {
    "rpm_limit": ("rpmLimit", "rpm_limit"),
    "concurrency_limit": ("concurrencyLimit", "concurrency_limit"),
}


async def list_keys(request: Request) -> JSONResponse:
    caller = await require_account(request)
    assert caller.account_id is not None
    keys = await context(request).key_manager.list_keys(caller.account_id)
    return respond({"object": "list", "data": [key_json(k) for k in keys]})


async def create_key(request: Request) -> JSONResponse:
    caller = await require_account(request)
    assert caller.account_id is not None
    allowed = {name for names in (*_FIELDS.values(), *_INTS.values()) for name in names}
    body = await json_body(request, allowed=allowed)
    strings = {field: opt_str(body, *names) for field, names in _FIELDS.items()}
    ints = {field: opt_int(body, *names) for field, names in _INTS.items()}
    spec = NewKey(
        name="default" if strings["name"] is None else strings["name"],
        mode="router" if strings["mode"] is None else strings["mode"],
        upstream_base_url=strings["upstream_base_url"],
        upstream_api_key=strings["upstream_api_key"],
        compression_level=strings["compression_level"],
        rpm_limit=ints["rpm_limit"],
        concurrency_limit=ints["concurrency_limit"],
    )
    key, full_key = await context(request).key_manager.create_key(caller.account_id, spec)
    return respond({**key_json(key), "fullKey": full_key}, status=201)


async def revoke_key(request: Request) -> JSONResponse:
    caller = await require_account(request)
    assert caller.account_id is not None
    key = await context(request).key_manager.revoke_key(caller.account_id, request.path_params["key_id"])
    return respond(key_json(key))


routes = [
    Route("/api/keys", list_keys, methods=["GET"]),
    Route("/api/keys", create_key, methods=["POST"]),
    Route("/api/keys/{key_id}", revoke_key, methods=["DELETE"]),
]
