"""A shutdown whose grace runs out while the database cannot take a charge.

The settle of a delivered answer is retried for about a minute. When SIGTERM's grace ended first,
the retries were cancelled by the interpreter's exit and the request vanished: no usage row, and
not a word in the log. Now the figures an operator needs to charge it by hand are logged at error
level, as for any other unbilled request."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from reliability_helpers import chat_body, seed, usage_rows

pytestmark = pytest.mark.timeout(90)


def test_a_charge_cut_off_by_shutdown_is_logged_with_its_figures(
    spawn: Any, simulator: Any, tmp_path: Path
) -> None:
    path = tmp_path / "locked.db"
    db = f"sqlite:///{path}"
    seeded = seed(db, usd="1.00")
    gw = spawn(database_url=db, upstream_base_url=simulator.base_url, shutdown_grace_s=1)
    headers = {"Authorization": f"Bearer {seeded.key}"}
    warm = httpx.post(
        gw.base_url + "/chat/completions", json=chat_body(max_tokens=4), headers=headers, timeout=30
    )
    assert warm.status_code == 200, warm.text

    lock = sqlite3.connect(path, timeout=10, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # the database is unavailable to the gateway from here on
    try:
        answer = httpx.post(
            gw.base_url + "/chat/completions", json=chat_body(max_tokens=4), headers=headers, timeout=30
        )
        assert answer.status_code == 200, answer.text  # delivered: the settle comes after
        request_id = answer.headers["x-request-id"]
        time.sleep(0.5)
        gw.signal(signal.SIGTERM)
        assert gw.wait(60) == 0, gw.log()[-3000:]
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    records = [json.loads(line) for line in gw.log().splitlines() if line.startswith("{")]
    unbilled = [
        r
        for r in records
        if r.get("level") == "error" and request_id in r.get("msg", "") and "no usage row" in r["msg"]
    ]
    assert unbilled, gw.log()[-3000:]
    assert f"account={seeded.account_id}" in unbilled[0]["msg"]
    assert "charge_micros=" in unbilled[0]["msg"]
    assert request_id not in {r.request_id for r in usage_rows(db, seeded.account_id)}
    (line,) = [
        r for r in records if r.get("logger") == "opencompress.request" and r.get("request_id") == request_id
    ]
    assert line["level"] == "warning" and line["unbilled"] is True
    assert line["uncollected_micros"] == int(unbilled[0]["msg"].rsplit("charge_micros=", 1)[1]) > 0
