"""GET /metrics through a real gateway: every metric moves exactly as the traffic says it should."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.gateway import Gateway, running_gateway

pytestmark = pytest.mark.timeout(60)
DOC = json.dumps({"rows": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(20)]}, indent=4)
MESSAGES = [
    {"role": "user", "content": "Summarise:"},
    {"role": "tool", "tool_call_id": "c", "content": DOC},  # pretty-printed JSON: minified losslessly
    {"role": "user", "content": "How many rows are there?"},
]


@pytest.fixture(scope="module")
def gw(simulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("metrics"), simulator.base_url) as gateway:
        yield gateway


def scrape(gw: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(gw.server.url + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(gw: Gateway, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-4o-mini", "messages": MESSAGES, **body}
    return httpx.post(
        gw.base_url + "/chat/completions",
        json=payload,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def wait_for(check: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_requests_tokens_charges_and_latency_are_counted(gw: Gateway) -> None:
    seeded = gw.seed(usd="2.00")
    before = scrape(gw)
    answers = [post(gw, seeded.key), post(gw, seeded.key, stream=True), post(gw, seeded.key, max_tokens=3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    wait_for(lambda: len(gw.usage(seeded.account_id)) == 3)  # the stream settles just after its end
    after = scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("opencompress_requests_total", model="gpt-4o-mini", status="200") == 3
    rows = gw.usage(seeded.account_id)
    assert delta("opencompress_charged_micros_total") == sum(r.charged_micros for r in rows) > 0
    saved = sum(
        int(a.headers["x-opencompress-original-tokens"]) - int(a.headers["x-opencompress-compressed-tokens"])
        for a in answers
    )
    assert saved > 0, "the prompt has whitespace and JSON to remove"
    assert delta("opencompress_tokens_saved_total") == saved
    assert delta("opencompress_compression_ratio_count") == 3
    assert delta("opencompress_compression_ratio_sum") < 3  # every ratio below 1.0
    assert delta("opencompress_request_duration_seconds_count") == 3
    assert delta("opencompress_upstream_ttfb_seconds_count") == 3
    assert (
        0
        < delta("opencompress_upstream_ttfb_seconds_sum")
        <= delta("opencompress_request_duration_seconds_sum")
    )


def test_rejections_and_upstream_errors_are_counted_by_status_and_code(gw: Gateway) -> None:
    limited = gw.seed(usd="1.00", rpm=1)
    broke = gw.seed(usd="0")
    before = scrape(gw)
    assert post(gw, limited.key).status_code == 200
    assert post(gw, limited.key).status_code == 429
    assert post(gw, broke.key).status_code == 402
    assert post(gw, limited.key.replace("sk-occ-", "sk-occ-x")).status_code == 401
    funded = gw.seed(usd="1.00")
    assert post(gw, funded.key, simulate={"fault": "status", "status": 500}).status_code == 502
    assert post(gw, funded.key, simulate={"fault": "status", "status": 429}).status_code == 429
    stream = post(gw, funded.key, stream=True, simulate={"fault": "drop", "after_chunks": 2})
    assert stream.status_code == 200 and '"error"' in stream.text
    wait_for(lambda: len(gw.usage(funded.account_id)) == 3)
    after = scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("opencompress_requests_total", model="gpt-4o-mini", status="429") == 2  # ours + upstream's
    assert delta("opencompress_requests_total", model="gpt-4o-mini", status="402") == 1
    assert delta("opencompress_requests_total", model="unknown", status="401") == 1  # no model read yet
    assert delta("opencompress_requests_total", model="gpt-4o-mini", status="502") == 1
    assert delta("opencompress_requests_total", model="gpt-4o-mini", status="200") == 2  # incl. broken stream
    assert delta("opencompress_rate_limit_rejections_total", reason="rpm") == 1
    assert delta("opencompress_upstream_errors_total", code="upstream_http_500") == 1
    assert delta("opencompress_upstream_errors_total", code="upstream_http_429") == 1
    assert delta("opencompress_upstream_errors_total", code="upstream_disconnected") == 1


def test_concurrency_rejections_and_the_active_streams_gauge(gw: Gateway) -> None:
    seeded = gw.seed(usd="1.00", concurrency=1)
    before = scrape(gw)
    started = threading.Event()

    def slow_stream() -> None:
        body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True, "max_tokens": 6}
        body["simulate"] = {"fault": "slow", "delay_s": 0.25}
        with httpx.stream(
            "POST",
            gw.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {seeded.key}"},
            timeout=30,
        ) as r:
            for _ in r.iter_text():
                started.set()

    thread = threading.Thread(target=slow_stream)
    thread.start()
    assert started.wait(10)
    assert value(scrape(gw), "opencompress_active_streams") == 1
    assert post(gw, seeded.key).status_code == 429
    thread.join(30)
    wait_for(lambda: value(scrape(gw), "opencompress_active_streams") == 0)
    after = scrape(gw)
    assert (
        value(after, "opencompress_rate_limit_rejections_total", reason="concurrency")
        - value(before, "opencompress_rate_limit_rejections_total", reason="concurrency")
        == 1
    )


def test_model_label_is_bounded_to_the_price_table(gw: Gateway) -> None:
    seeded = gw.seed(usd="1.00")
    for name in ("my-own-finetune-1", "my-own-finetune-2", "openai/GPT-4o-mini"):
        assert post(gw, seeded.key, model=name).status_code == 200
    samples = scrape(gw)
    models = {
        dict(labels).get("model") for (name, labels) in samples if name == "opencompress_requests_total"
    }
    assert "other" in models and "gpt-4o-mini" in models
    assert not any(m and "finetune" in m for m in models)
    assert "openai/GPT-4o-mini" not in models  # aliases are reported under the table's name


def test_each_app_has_its_own_registry_and_metrics_can_be_turned_off(
    gw: Gateway, simulator: Any, tmp_path: Path
) -> None:
    with running_gateway(tmp_path / "fresh", simulator.base_url) as fresh:
        samples = scrape(fresh)
        assert value(samples, "opencompress_requests_total", model="gpt-4o-mini", status="200") == 0
        assert value(scrape(gw), "opencompress_requests_total", model="gpt-4o-mini", status="200") > 0
    with running_gateway(tmp_path / "off", simulator.base_url, metrics_enabled=False) as off:
        r = httpx.get(off.server.url + "/metrics", timeout=10)
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_storage_figures_count_commits_and_charges(gw: Gateway) -> None:
    """SQLite: every settled request is a charge; concurrent ones may share a commit."""
    seeded = gw.seed(usd="1.00")
    before = scrape(gw)

    def stat(samples: dict[Any, float], name: str) -> float:
        return value(samples, "opencompress_storage", stat=name)

    for _ in range(3):
        assert post(gw, seeded.key).status_code == 200
    after = scrape(gw)
    assert stat(after, "settled_charges") - stat(before, "settled_charges") == 3
    commits = stat(after, "settle_commits") - stat(before, "settle_commits")
    assert 1 <= commits <= 3
    assert stat(after, "holds") == 0  # every hold was consumed by its settle
    assert ("opencompress_storage", (("stat", "lock_retries"),)) in after


def test_a_charge_capped_at_the_balance_is_counted_as_uncollected(gw: Gateway) -> None:
    seeded = gw.seed(usd="0.000001")
    before = scrape(gw)
    assert post(gw, seeded.key).status_code == 200
    wait_for(lambda: len(gw.usage(seeded.account_id)) == 1)
    (row,) = gw.usage(seeded.account_id)
    assert row.charged_micros == 1 < row.charge_micros
    uncollected = value(scrape(gw), "opencompress_uncollected_micros_total") - value(
        before, "opencompress_uncollected_micros_total"
    )
    assert uncollected == row.charge_micros - 1
