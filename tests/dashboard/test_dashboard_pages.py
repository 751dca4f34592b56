"""Dashboard pages over HTTP (no browser): sign-in, CSRF, ownership, filters, pagination, headers.

The browser flow (sign in, create a key, call the gateway with it, read usage, revoke) is in
test_dashboard_browser.py; this module pins the rules a browser would hide: status codes, what
a second account cannot see, what HTML never contains.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from dashboard_support import PASSWORD, create_key, form_token, make_owner, sign_in

from opencompress.accounts.sessions import hash_session_token
from opencompress.dashboard.web import safe_next
from opencompress.storage.base import UsageRecord
from support.gateway import Gateway


def _usage(account_id: str, key_id: str, n: int, *, at: float, model: str = "gpt-4o-mini") -> UsageRecord:
    return UsageRecord(
        request_id=f"gen-seed-{account_id[-6:]}-{n:04d}",
        account_id=account_id,
        key_id=key_id,
        model=model,
        mode="router",
        original_input_tokens=1000 + n,
        compressed_input_tokens=600,
        output_tokens=50,
        original_cost_micros=2000,
        actual_cost_micros=1400,
        savings_micros=600,
        fee_micros=120,
        charge_micros=1520,
        compression_ms=1.0,
        ttfb_ms=10.0,
        total_ms=20.0,
        status="ok",
        created_at=at,
    )


def _seed_usage(gw: Gateway, records: list[UsageRecord]) -> None:
    async def go(service: Any, storage: Any) -> None:
        for record in records:
            await storage.settle(record)

    gw.run(go)


def _key_id(gw: Gateway, account_id: str, full_key: str) -> str:
    async def go(service: Any, storage: Any) -> str:
        return str((await service.authenticate(full_key)).id)

    result: str = gw.run(go)
    return result


# sign-in


def test_pages_redirect_to_sign_in_without_a_session(dash: Gateway) -> None:
    with dash.http() as client:
        for path in ("/dashboard", "/dashboard/keys", "/dashboard/usage?model=x", "/dashboard/usage/gen-1"):
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=/dashboard")
        response = client.post("/dashboard/keys", data={"name": "x", "mode": "router"})
        assert response.status_code == 303
        assert client.get("/login").status_code == 200


def test_wrong_password_gets_one_generic_message_and_no_cookie(dash: Gateway) -> None:
    owner = make_owner(dash)
    with dash.http() as client:
        token = form_token(client.get("/login").text)
        for email, password in ((owner.email, "wrong password!"), ("nobody@example.com", PASSWORD)):
            response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
            assert response.status_code == 401
            assert "Invalid email or password." in response.text
            assert "oc_session" not in response.headers.get("set-cookie", "")
            assert password not in response.text
            token = form_token(response.text)


def test_sign_in_form_needs_its_token(dash: Gateway) -> None:
    owner = make_owner(dash)
    with dash.http() as client:
        client.get("/login")
        response = client.post("/login", data={"email": owner.email, "password": PASSWORD})
        assert response.status_code == 403
        assert "oc_session" not in response.headers.get("set-cookie", "")
    with dash.http() as fresh:  # a token from the form but no matching cookie (cross-site post)
        response = fresh.post(
            "/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": "forged-token-value"}
        )
        assert response.status_code == 403


def test_session_cookie_is_http_only_and_same_site(dash: Gateway) -> None:
    owner = make_owner(dash)
    with dash.http() as client:
        token = form_token(client.get("/login").text)
        response = client.post(
            "/login",
            data={
                "email": owner.email,
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/dashboard/usage",
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/usage"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("oc_session="))
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        # the same cookie authenticates the JSON API
        assert client.get("/api/me").json()["account"]["id"] == owner.account_id


def test_a_page_visit_late_in_the_session_renews_its_cookie(dash: Gateway) -> None:
    owner = make_owner(dash)
    ttl = dash.settings.session_ttl_s
    with sign_in(dash, owner) as client:
        fresh = client.get("/dashboard")
        assert fresh.status_code == 200
        assert not fresh.headers.get_list("set-cookie"), "no new cookie while most of the lifetime is left"
        token_hash = hash_session_token(client.cookies["oc_session"])

        async def age(service: Any, storage: Any) -> None:  # as if the session were 3/4 through its life
            assert await storage.extend_session(token_hash, time.time() + ttl / 4)

        dash.run(age)
        late = client.get("/dashboard/keys")
        assert late.status_code == 200
        cookie = next(c for c in late.headers.get_list("set-cookie") if c.startswith("oc_session="))
        assert f"Max-Age={int(ttl)}" in cookie and "HttpOnly" in cookie

        async def expiry(service: Any, storage: Any) -> float:
            return float((await storage.get_session(token_hash)).expires_at)

        assert dash.run(expiry) > time.time() + ttl * 0.9


def test_an_api_call_late_in_the_session_renews_its_cookie_too(dash: Gateway) -> None:
    """A console that only calls /api/* must not be signed out at the original expiry."""
    owner = make_owner(dash)
    ttl = dash.settings.session_ttl_s
    with sign_in(dash, owner) as client:
        assert not client.get("/api/me").headers.get_list("set-cookie")
        token_hash = hash_session_token(client.cookies["oc_session"])

        async def age(service: Any, storage: Any) -> None:
            assert await storage.extend_session(token_hash, time.time() + ttl / 4)

        dash.run(age)
        late = client.get("/api/me")
        assert late.status_code == 200
        cookies = [c for c in late.headers.get_list("set-cookie") if c.startswith("oc_session=")]
        assert len(cookies) == 1 and f"Max-Age={int(ttl)}" in cookies[0] and "HttpOnly" in cookies[0]
        # once renewed, the next call is early in the new lifetime again: no cookie
        assert not client.get("/api/me").headers.get_list("set-cookie")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/dashboard/keys", "/dashboard/keys"),
        ("https://evil.example/dashboard", "/dashboard"),
        ("//evil.example/dashboard", "/dashboard"),
        ("/dashboard\\@evil", "/dashboard"),
        ("/api/keys", "/dashboard"),
        (None, "/dashboard"),
    ],
)
def test_next_after_sign_in_stays_on_the_dashboard(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_sign_out_needs_the_token_and_ends_the_session(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        cookie = client.cookies["oc_session"]
        assert client.post("/logout", data={}).status_code == 403
        assert client.get("/dashboard").status_code == 200
        csrf = form_token(client.get("/dashboard").text)
        response = client.post("/logout", data={"csrf_token": csrf})
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")
        assert client.get("/dashboard").status_code == 303
    with dash.http() as replay:  # the old cookie is dead on the server too
        replay.cookies.set("oc_session", cookie)
        assert replay.get("/dashboard").status_code == 303


# CSRF and ownership


def test_state_changes_without_the_csrf_token_are_403(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        for data in (
            {"name": "nope", "mode": "router"},
            {"name": "nope", "mode": "router", "csrf_token": "x"},
        ):
            response = client.post("/dashboard/keys", data=data)
            assert response.status_code == 403
            assert "security token" in response.text
        assert "nope" not in client.get("/dashboard/keys").text
        full_key, _ = create_key(client, "kept")
        key_id = _key_id(dash, owner.account_id, full_key)
        assert client.post(f"/dashboard/keys/{key_id}/revoke", data={}).status_code == 403
        csrf = form_token(client.get("/dashboard/keys").text)
        cross_site = client.post(
            f"/dashboard/keys/{key_id}/revoke",
            data={"csrf_token": csrf},
            headers={"Origin": "http://evil.example"},
        )
        assert cross_site.status_code == 403
    with dash.client(full_key) as sdk:  # still active
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_a_second_account_sees_nothing_of_the_first(dash: Gateway) -> None:
    alice, bob = make_owner(dash, name="alice"), make_owner(dash, name="bob")
    with sign_in(dash, alice) as a_client:
        alice_key, _ = create_key(a_client, "alice-app")
    alice_key_id = _key_id(dash, alice.account_id, alice_key)
    with dash.client(alice_key) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
    request_id = raw.headers["x-request-id"]
    with sign_in(dash, bob) as b_client:
        keys_page = b_client.get("/dashboard/keys").text
        assert alice_key_id not in keys_page and "alice-app" not in keys_page
        assert alice_key[:14] not in keys_page
        assert request_id not in b_client.get("/dashboard/usage").text
        assert b_client.get(f"/dashboard/usage/{request_id}").status_code == 404
        assert b_client.get(f"/dashboard/usage?key_id={alice_key_id}").status_code == 404
        assert b_client.get(f"/dashboard/keys/{alice_key_id}/revoke").status_code == 404
        csrf = form_token(keys_page)
        response = b_client.post(f"/dashboard/keys/{alice_key_id}/revoke", data={"csrf_token": csrf})
        assert response.status_code == 404
        assert "Not found" in response.text
    with dash.client(alice_key) as sdk:  # Bob's attempt did not revoke it
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "still mine"}])
    with sign_in(dash, alice) as a_client:
        assert a_client.get(f"/dashboard/usage/{request_id}").status_code == 200


# keys


def test_full_key_is_shown_once_and_no_secret_reaches_html(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        session_token = client.cookies["oc_session"]
        full_key, created = create_key(
            client,
            "byok-app",
            mode="byok",
            upstream_base_url=dash.sim_url + "/v1",
            upstream_api_key="sk-provider-SECRET-123",
        )
        assert created.text.count(full_key) == 1
        assert created.headers["cache-control"] == "no-store"
        assert created.headers["referrer-policy"] == "same-origin"
        assert "sk-provider-SECRET-123" not in created.text
        pages = [client.get(p) for p in ("/dashboard", "/dashboard/keys", "/dashboard/usage")]
        for response in [created, *pages]:
            assert response.status_code == 200
            assert session_token not in response.text
            assert "default-src 'none'" in response.headers["content-security-policy"]
        keys_page = pages[1].text
        assert full_key not in keys_page and "sk-provider-SECRET-123" not in keys_page
        assert full_key[:14] in keys_page  # the display prefix
        assert 'class="badge badge-byok"' in keys_page


def test_bad_key_input_rerenders_the_form_with_the_reason(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        csrf = form_token(client.get("/dashboard/keys").text)
        response = client.post(
            "/dashboard/keys",
            data={
                "name": "bad-url",
                "mode": "byok",
                "upstream_base_url": "ftp://files.example",
                "upstream_api_key": "sk-provider-XYZ",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 400
        assert "http:// or https://" in response.text
        assert 'value="bad-url"' in response.text  # the form keeps what was typed...
        assert "sk-provider-XYZ" not in response.text  # ...except the provider key
        for i in range(5):
            create_key(client, f"k{i}")
        csrf = form_token(client.get("/dashboard/keys").text)
        sixth = client.post("/dashboard/keys", data={"name": "k6", "mode": "router", "csrf_token": csrf})
        assert sixth.status_code == 400
        assert "5" in re.search(r'role="alert"[^>]*>([^<]+)<', sixth.text).group(1)  # type: ignore[union-attr]


# usage


def test_usage_filters_pagination_and_csv(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        key_a, _ = create_key(client, "a")
        key_b, _ = create_key(client, "b")
        id_a, id_b = _key_id(dash, owner.account_id, key_a), _key_id(dash, owner.account_id, key_b)
        now = time.time()
        old = (datetime.now(UTC) - timedelta(days=40)).timestamp()
        records = [_usage(owner.account_id, id_a, i, at=now - 100 + i) for i in range(55)]
        records += [
            _usage(owner.account_id, id_b, 100 + i, at=now - 200 + i, model="gpt-4o") for i in range(3)
        ]
        records += [_usage(owner.account_id, id_a, 200, at=old)]
        _seed_usage(dash, records)

        first = client.get("/dashboard/usage")
        assert first.status_code == 200
        assert first.text.count("data-request-id=") == 50
        assert records[54].request_id in first.text  # newest first
        next_url = re.search(r'href="([^"]+)" rel="next"', first.text).group(1)  # type: ignore[union-attr]
        second = client.get(next_url.replace("&amp;", "&"))
        assert second.text.count("data-request-id=") == 9
        assert 'rel="next"' not in second.text
        assert records[-1].request_id in second.text

        by_model = client.get("/dashboard/usage", params={"model": "gpt-4o"})
        assert by_model.text.count("data-request-id=") == 3
        by_key = client.get("/dashboard/usage", params={"key_id": id_b})
        assert by_key.text.count("data-request-id=") == 3
        day = datetime.fromtimestamp(old, UTC).date().isoformat()
        by_date = client.get("/dashboard/usage", params={"from": day, "to": day})
        assert by_date.text.count("data-request-id=") == 1 and records[-1].request_id in by_date.text

        bad = client.get("/dashboard/usage", params={"from": "last tuesday"})
        assert bad.status_code == 400 and "from must be" in bad.text

        csv_href = re.search(r'href="([^"]+)" download', by_model.text).group(1)  # type: ignore[union-attr]
        csv = client.get(csv_href.replace("&amp;", "&"))
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        lines = csv.text.strip().splitlines()
        assert len(lines) == 1 + 3 and all(",gpt-4o," in line for line in lines[1:])


def test_overview_totals_low_balance_banner_and_chart(dash: Gateway) -> None:
    rich, poor = make_owner(dash, usd="5.00"), make_owner(dash, usd="0.50")
    with sign_in(dash, rich) as client:
        key, _ = create_key(client, "r")
        key_id = _key_id(dash, rich.account_id, key)
        now = time.time()
        _seed_usage(dash, [_usage(rich.account_id, key_id, i, at=now - i) for i in range(3)])
        page = client.get("/dashboard")
        assert page.status_code == 200
        text = page.text
        assert 'data-testid="low-balance"' not in text
        assert re.search(r'data-testid="month-calls">3<', text)
        tokens_saved = sum(1000 + i - 600 for i in range(3))
        assert re.search(rf'data-testid="month-tokens-saved">{tokens_saved:,}<', text)
        assert re.search(r'data-testid="month-money-saved">\$0.00144<', text)  # 3 x (600 - 120)
        assert re.search(r'data-testid="balance">\$4.99544<', text)  # 5.00 - 3 x 0.001520
        assert text.count('<rect class="bar"') == 1 and '<circle class="rate-dot"' in text
        assert "<script>" not in text  # the chart is plain SVG
    with sign_in(dash, poor) as client:
        banner = client.get("/dashboard").text
        assert 'data-testid="low-balance"' in banner and "$0.50" in banner
        assert 'data-testid="low-balance"' in client.get("/dashboard/keys").text


def test_static_files_are_served_and_pages_reference_only_this_origin(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        html = client.get("/dashboard").text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert urls and all(u.startswith(("/", "#", "data:")) for u in urls), urls
        for asset in re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', html):
            response = client.get(asset)
            assert response.status_code == 200 and len(response.content) > 100
    with httpx.Client(base_url=dash.server.url) as anonymous:  # assets need no session
        assert anonymous.get("/dashboard/static/dashboard.css").status_code == 200


def test_user_text_is_escaped(dash: Gateway) -> None:
    owner = make_owner(dash)
    with sign_in(dash, owner) as client:
        _, created = create_key(client, '<img src=x onerror="alert(1)">')
        for html in (created.text, client.get("/dashboard/keys").text):
            assert '<img src=x onerror="alert(1)">' not in html
            assert "&lt;img src=x onerror=" in html


def test_too_many_sign_in_attempts_get_a_page_not_json(dash: Gateway) -> None:
    owner = make_owner(dash)
    with dash.http() as client:
        token = form_token(client.get("/login").text)
        statuses = []
        for _ in range(12):
            response = client.post(
                "/login", data={"email": owner.email, "password": "not the password", "csrf_token": token}
            )
            statuses.append(response.status_code)
            token = form_token(response.text)  # every answer is the sign-in page again
        assert statuses[0] == 401 and statuses[-1] == 429
        assert response.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in response.text
