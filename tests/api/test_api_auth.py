"""Console authentication: session cookie + CSRF, admin bearer token, sk-occ keys refused."""

from __future__ import annotations

import httpx
import pytest

from support.gateway import ADMIN_TOKEN, OWNER_PASSWORD, Gateway, Owner, error_of

CONSOLE_GETS = ["/api/me", "/api/keys", "/api/balance", "/api/usage", "/api/usage/summary", "/api/usage.csv"]


def anonymous(gw: Gateway, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=gw.server.url, timeout=30, headers=headers)


@pytest.mark.parametrize("path", [*CONSOLE_GETS, "/admin/accounts"])
def test_no_credentials_is_401(console: Gateway, path: str) -> None:
    with anonymous(console) as c:
        assert error_of(c.get(path), 401)["code"] == "not_signed_in"


@pytest.mark.parametrize("path", [*CONSOLE_GETS, "/admin/accounts"])
def test_sk_occ_keys_are_refused_with_a_clear_message(console: Gateway, path: str) -> None:
    key = console.seed(usd="1.00").key
    for headers in ({"Authorization": f"Bearer {key}"}, {"x-api-key": key}):
        with anonymous(console, **headers) as c:
            err = error_of(c.get(path), 403)
        assert err["code"] == "api_key_not_allowed" and "LLM API" in err["message"]
        assert key not in err["message"]


def test_wrong_admin_token_is_401_and_not_echoed(console: Gateway) -> None:
    with anonymous(console, Authorization="Bearer not-the-admin-token") as c:
        err = error_of(c.get("/admin/accounts"), 401)
    assert err["code"] == "invalid_admin_token" and "not-the-admin-token" not in err["message"]


def test_admin_endpoints_disabled_without_a_configured_token(gateway: Gateway) -> None:
    with anonymous(gateway, Authorization=f"Bearer {ADMIN_TOKEN}") as c:
        assert error_of(c.get("/admin/accounts"), 401)["code"] == "admin_disabled"
        assert error_of(c.post("/admin/accounts", json={"name": "x"}), 401)["code"] == "admin_disabled"


def test_sign_in_sets_a_locked_down_cookie_and_returns_csrf(console: Gateway, owner: Owner) -> None:
    with anonymous(console) as c:
        r = c.post("/auth/login", json={"email": owner.email.upper(), "password": OWNER_PASSWORD})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith("oc_session=") and {"httponly", "path", "max-age"} <= flags
    assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower() and "secure" not in flags
    token = cookie.split(";")[0].split("=", 1)[1]
    body = r.json()
    assert body["account"]["id"] == owner.account_id and body["csrfToken"] and body["expiresAt"]
    assert token not in r.text  # the session token travels only in the cookie


def test_cookie_is_secure_behind_https(console: Gateway, owner: Owner) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a local TLS-terminating proxy.
    with anonymous(console, **{"X-Forwarded-Proto": "https"}) as c:
        r = c.post("/auth/login", json={"email": owner.email, "password": OWNER_PASSWORD})
    assert r.status_code == 200 and "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "body",
    [
        {"email": "owner-nobody@example.com", "password": OWNER_PASSWORD},
        {"email": "EMAIL", "password": "wrong-password"},
    ],
)
def test_bad_credentials_get_one_generic_401(console: Gateway, owner: Owner, body: dict[str, str]) -> None:
    body = {k: owner.email if v == "EMAIL" else v for k, v in body.items()}
    with anonymous(console) as c:
        r = c.post("/auth/login", json=body)
        err = error_of(r, 401)
    assert err["message"] == "Invalid email or password." and "set-cookie" not in r.headers
    assert body["password"] not in r.text


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"json": {"email": "a@example.com"}}, "invalid_request"),
        ({"json": {"email": "a@example.com", "password": 5}}, "invalid_type"),
        ({"json": {"email": "a@example.com", "password": "x", "extra": 1}}, "unknown_parameter"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, "invalid_json"),
        ({"data": {"email": "a@example.com", "password": "long-enough"}}, "invalid_request"),
    ],
)
def test_malformed_login_is_400(console: Gateway, kwargs: dict[str, object], code: str) -> None:
    with anonymous(console) as c:
        assert error_of(c.post("/auth/login", **kwargs), 400)["code"] == code  # type: ignore[arg-type]


def test_session_reads_without_csrf_but_writes_need_it(console: Gateway, owner: Owner) -> None:
    me = owner.client.get("/api/me", headers={"X-CSRF-Token": ""})
    assert me.status_code == 200
    assert me.json()["account"]["id"] == owner.account_id and me.json()["via"] == "session"
    csrf = owner.client.headers.pop("X-CSRF-Token")
    assert me.json()["csrfToken"] == csrf
    err = error_of(owner.client.post("/api/keys", json={"name": "x"}), 403)
    assert err["code"] == "csrf_failed"
    bad = owner.client.post("/api/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert error_of(bad, 403)["code"] == "csrf_failed"
    cross = owner.client.post(
        "/api/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert error_of(cross, 403)["code"] == "cross_site_request"
    ok = owner.client.post(
        "/api/keys", json={"name": "x"}, headers={"X-CSRF-Token": csrf, "Origin": console.server.url}
    )
    assert ok.status_code == 201
    proxied = {
        "X-CSRF-Token": csrf,
        "Origin": "https://console.example",
        "X-Forwarded-Host": "console.example",
    }
    assert owner.client.post("/api/keys", json={"name": "y"}, headers=proxied).status_code == 201
    sandboxed = {"X-CSRF-Token": csrf, "Origin": "null"}
    assert error_of(owner.client.post("/api/keys", json={"name": "z"}, headers=sandboxed), 403)["code"] == (
        "cross_site_request"
    )


def test_logout_ends_the_session(console: Gateway, owner: Owner) -> None:
    cookie = owner.client.cookies["oc_session"]
    csrf = owner.client.headers.pop("X-CSRF-Token")
    assert error_of(owner.client.post("/auth/logout"), 403)["code"] == "csrf_failed"
    r = owner.client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204 and 'oc_session=""' in r.headers["set-cookie"]
    with anonymous(console) as c:
        c.cookies.set("oc_session", cookie)
        assert error_of(c.get("/api/me"), 401)["code"] == "invalid_session"
        assert c.post("/auth/logout").status_code == 204  # an ended session: just clears the cookie


def test_forged_or_oversized_cookies_are_401(console: Gateway) -> None:
    for value in ("forged-session-token", "x" * 300):
        with anonymous(console) as c:
            c.cookies.set("oc_session", value)
            assert error_of(c.get("/api/keys"), 401)["code"] in {"invalid_session", "no_session"}


def test_session_cannot_use_operator_endpoints(owner: Owner) -> None:
    assert error_of(owner.client.get("/admin/accounts"), 403)["code"] == "admin_only"
    r = owner.client.post(f"/admin/accounts/{owner.account_id}/credit", json={"amount_usd": "100"})
    assert error_of(r, 403)["code"] == "admin_only"


def test_admin_on_api_must_name_an_existing_account(console: Gateway, owner: Owner) -> None:
    with console.admin() as admin:
        assert error_of(admin.get("/api/keys"), 400)["param"] == "account_id"
        assert (
            error_of(admin.get("/api/keys", params={"account_id": "acct_nope"}), 404)["code"] == "not_found"
        )
        me = admin.get("/api/me", headers={"X-Account-Id": owner.account_id})
        assert me.status_code == 200 and me.json()["via"] == "admin" and me.json()["csrfToken"] is None
        balance = admin.get("/api/balance", params={"account_id": owner.account_id})
        assert balance.json()["balanceMicros"] == 5_000_000
        # the admin token needs no CSRF token: it is not an ambient browser credential
        created = admin.post("/api/keys", params={"account_id": owner.account_id}, json={"name": "ops"})
        assert created.status_code == 201
    assert any(k["name"] == "ops" for k in owner.client.get("/api/keys").json()["data"])


def test_bearer_wins_over_a_cookie(console: Gateway, owner: Owner) -> None:
    r = owner.client.get("/api/me", headers={"Authorization": "Bearer wrong"})
    assert error_of(r, 401)["code"] == "invalid_admin_token"


def test_too_many_sign_in_attempts_is_429(console: Gateway) -> None:
    email = "hammered@example.com"
    console.create_owner(email=email, password=OWNER_PASSWORD)
    with anonymous(console) as c:
        codes = [
            c.post("/auth/login", json={"email": email, "password": "guess-number-x"}).status_code
            for _ in range(10)
        ]
        assert codes == [401] * 10
        r = c.post("/auth/login", json={"email": email, "password": OWNER_PASSWORD})
        err = error_of(r, 429)
    assert err["code"] == "too_many_sign_in_attempts" and int(r.headers["retry-after"]) >= 1
    assert "set-cookie" not in r.headers
