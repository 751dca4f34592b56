"""The absolute session lifetime through the running gateway: a session signed in longer ago than
``OPENCOMPRESS_SESSION_MAX_LIFETIME_S`` (30 days by default) is refused however recently it was
used, by the console API and the dashboard alike."""

from __future__ import annotations

import sqlite3
import time

from opencompress.accounts.sessions import hash_session_token
from opencompress.storage import sqlite_path
from support.gateway import Gateway, Owner, error_of


def test_a_session_signed_in_over_30_days_ago_is_refused(console: Gateway, owner: Owner) -> None:
    client = owner.client
    assert client.get("/api/me").status_code == 200
    token_hash = hash_session_token(client.cookies["oc_session"])
    with sqlite3.connect(sqlite_path(console.settings.database_url)) as db:  # still used a moment ago
        db.execute(
            "UPDATE sessions SET created_at = ?, expires_at = ? WHERE token_hash = ?",
            (time.time() - 31 * 86400, time.time() + 3600, token_hash),
        )
    assert error_of(client.get("/api/me"), 401)["code"] == "session_expired"
    page = client.get("/dashboard", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
