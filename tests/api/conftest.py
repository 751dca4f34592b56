"""One console gateway for the API tests: admin token on, private upstreams allowed (the BYOK
upstream is the loopback simulator). Tests that need the SSRF guard on start their own."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from support.gateway import ADMIN_TOKEN, OWNER_PASSWORD, Gateway, Owner, running_gateway

_emails = itertools.count(1)


@pytest.fixture(scope="session")
def console(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(
        tmp_path_factory.mktemp("console"),
        simulator.base_url,
        admin_token=ADMIN_TOKEN,
        allow_private_upstreams=True,
    ) as gw:
        yield gw


@pytest.fixture
def owner(console: Gateway) -> Iterator[Owner]:
    """A fresh account with $5.00 and a signed-in client."""
    email = f"owner{next(_emails)}@example.com"
    account_id = console.create_owner(email=email, password=OWNER_PASSWORD)
    client = console.sign_in(email, OWNER_PASSWORD)
    try:
        yield Owner(account_id, email, client)
    finally:
        client.close()
