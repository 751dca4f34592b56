"""Helpers for the dashboard tests: account owners who can sign in, forms, keys.

Accounts are made through the operator service, exactly as ``POST /admin/accounts`` does, so the
password is a real argon2 hash and sign-in goes through the real login form.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from opencompress.accounts.operator import OperatorService
from opencompress.money import parse_usd
from support.gateway import Gateway

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@dataclass
class Owner:
    account_id: str
    email: str
    password: str = PASSWORD


def make_owner(gw: Gateway, *, usd: str = "5.00", name: str | None = None) -> Owner:
    label = name or f"owner{next(_counter)}"
    email = f"{label}@example.com"

    async def go(service: Any, storage: Any) -> str:
        account = await OperatorService(service).create_account(
            label, email=email, password=PASSWORD, initial_credit_micros=parse_usd(usd)
        )
        return str(account.id)

    return Owner(account_id=gw.run(go), email=email)


def form_token(html: str) -> str:
    """The value of the first hidden ``csrf_token`` field of a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no csrf_token field"
    return match.group(1)


@contextmanager
def sign_in(gw: Gateway, owner: Owner) -> Iterator[httpx.Client]:
    """An httpx client holding the owner's session cookie (signed in through the login form)."""
    with gw.http() as client:
        yield _signed_in(client, owner)


def _signed_in(client: httpx.Client, owner: Owner) -> httpx.Client:
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"email": owner.email, "password": owner.password, "csrf_token": form_token(page.text)},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboard"
    return client


def create_key(client: httpx.Client, name: str, **fields: str) -> tuple[str, httpx.Response]:
    """Create a key through the keys form; returns the full key read from the result page."""
    csrf = form_token(client.get("/dashboard/keys").text)
    response = client.post(
        "/dashboard/keys", data={"name": name, "mode": "router", "csrf_token": csrf, **fields}
    )
    assert response.status_code == 200, response.text
    match = re.search(r'value="(sk-occ-[A-Za-z0-9_-]+)"', response.text)
    assert match, "the result page shows no key"
    return match.group(1), response
