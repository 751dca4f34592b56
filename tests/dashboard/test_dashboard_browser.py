"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

One browser for the module. The main test walks the issue's story end to end: sign in, create a
key and read it once, call the gateway with it through the official openai SDK, find that
request in the usage page with the numbers the gateway recorded and sent in its headers, revoke
the key with the keyboard, and see the SDK's next call fail with 401. Every page is saved as a
screenshot under ``artifacts/screenshots/``.

Without ``/usr/bin/chromium`` the module is skipped locally and fails under ``CI=true``
(``.ci/run`` installs the package). Never ``playwright install``: that downloads a browser.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import openai
import pytest
from dashboard_support import Owner, make_owner

from support.gateway import Gateway

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
T = TypeVar("T")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        instance = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn`` in a worker thread: Playwright's sync API keeps an event loop running in this
    thread, so the gateway helpers' ``asyncio.run`` must happen elsewhere."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args, **kwargs).result()


class Tab:
    """A browser context for one owner, recording every URL the page requests."""

    def __init__(self, browser: Any, gw: Gateway) -> None:
        self.gw = gw
        self.context = browser.new_context(
            base_url=gw.server.url,
            viewport={"width": 1366, "height": 900},  # a common laptop screen
            permissions=["clipboard-read", "clipboard-write"],
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.requested: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def sign_in(self, owner: Owner) -> None:
        self.page.goto("/dashboard")
        assert self.page.url.startswith(self.gw.server.url + "/login")
        self.page.get_by_label("Email").fill(owner.email)
        self.page.get_by_label("Password").fill(owner.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/dashboard")

    def close(self) -> None:
        self.context.close()


def _compressible_messages() -> list[dict[str, str]]:
    """Repeated JSON blocks (dedup) and a run of near-identical log lines (log folding) in earlier
    turns, then the question: two independent stages, so the prompt compresses even if one
    stage's rules change."""
    data = {
        "orders": [
            {
                "id": i,
                "customer": f"customer-{i}",
                "items": [{"sku": f"SKU-{i}-{j}", "qty": j} for j in range(3)],
                "status": "shipped",
            }
            for i in range(20)
        ]
    }
    log = "\n".join(
        f"2025-01-01T00:00:{i:02d}Z INFO worker-3 heartbeat ok queue=orders depth=0" for i in range(40)
    )
    return [
        {
            "role": "system",
            "content": "You answer questions about this order export:\n" + json.dumps(data, indent=4),
        },
        {"role": "user", "content": "Here is the worker log:\n" + log},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "How many orders were shipped?"},
    ]


def _check_accessible(tab: Tab) -> None:
    """Landmarks, a label for every form control, and a skip link before any other control."""
    page = tab.page
    assert page.locator("main").count() == 1 and page.locator("header").count() == 1
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )
    assert unlabelled == []
    first_stop = page.evaluate(
        "document.querySelector('a[href], button, input:not([type=hidden]), select').textContent.trim()"
    )
    assert first_stop == "Skip to main content"


def test_sign_in_create_use_see_usage_and_revoke(browser: Any, dash: Gateway) -> None:
    owner = off_loop(make_owner, dash, usd="5.00", name="browser-owner")
    tab = Tab(browser, dash)
    try:
        page = tab.page
        page.goto("/login")
        _check_accessible(tab)
        tab.shot("01-sign-in")
        tab.sign_in(owner)
        assert page.get_by_test_id("balance").inner_text() == "$5.00"
        assert page.get_by_test_id("low-balance").count() == 0

        # create a key; the result page shows it once, with a working copy button
        page.get_by_role("link", name="API keys").click()
        _check_accessible(tab)
        page.keyboard.press("Tab")  # no autofocus here: the first Tab lands on the skip link
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
        page.get_by_label("Name").fill("browser-app")
        assert not page.get_by_label("Provider base URL").is_visible()  # BYOK fields hidden for router
        page.get_by_role("button", name="Create key").click()
        full_key = page.get_by_test_id("full-key").input_value()
        assert re.fullmatch(r"sk-occ-[A-Za-z0-9_-]{20,}", full_key)
        page.get_by_role("button", name="Copy").click()
        page.get_by_text("Copied to the clipboard.").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == full_key
        tab.shot("03-key-created")
        page.get_by_role("link", name="Back to your keys").click()
        assert full_key not in page.content()
        row = page.locator("tr", has_text="browser-app")
        assert "router" in row.inner_text() and "active" in row.inner_text()
        tab.shot("02-keys")

        # use it through the official SDK
        with openai.OpenAI(base_url=dash.base_url, api_key=full_key, max_retries=0) as sdk:
            raw = sdk.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=_compressible_messages()
            )
            completion = raw.parse()
        request_id = raw.headers["x-request-id"]
        original = int(raw.headers["x-opencompress-original-tokens"])
        compressed = int(raw.headers["x-opencompress-compressed-tokens"])
        assert compressed < original

        stored = _wait_for_usage(dash, owner.account_id, request_id)
        assert stored.output_tokens == completion.usage.completion_tokens
        assert stored.compressed_input_tokens == completion.usage.prompt_tokens
        assert stored.original_input_tokens - stored.compressed_input_tokens == original - compressed
        assert stored.savings_micros > 0

        page.get_by_role("link", name="Usage").click()
        usage_row = page.locator(f'tr[data-request-id="{request_id}"]')
        cells = {
            col: usage_row.locator(f'td[data-col="{col}"]').inner_text()
            for col in ("input", "output", "saved", "fee", "charged", "rate")
        }
        assert cells["input"] == f"{stored.original_input_tokens:,} → {stored.compressed_input_tokens:,}"
        assert cells["output"] == f"{stored.output_tokens:,}"
        assert cells["saved"] == _usd(stored.savings_micros)
        assert cells["fee"] == _usd(stored.fee_micros)
        assert cells["charged"] == _usd(stored.charged_micros)
        rate = stored.compressed_input_tokens / stored.original_input_tokens
        assert cells["rate"] == f"{rate * 100:.1f}%"
        _check_accessible(tab)
        tab.shot("05-usage")
        usage_row.get_by_role("link").click()
        assert page.get_by_role("heading", level=1).inner_text() == f"Request {request_id}"
        tab.shot("06-usage-detail")

        # overview: this month's numbers include the call, the chart has a bar
        page.get_by_role("link", name="Overview").click()
        assert page.get_by_test_id("month-calls").inner_text() == "1"
        saved = stored.original_input_tokens - stored.compressed_input_tokens
        assert page.get_by_test_id("month-tokens-saved").inner_text() == f"{saved:,}"
        assert page.get_by_test_id("month-money-saved").inner_text() == _usd(
            stored.savings_micros - stored.fee_micros
        )
        assert page.locator("svg.chart rect.bar").count() == 1
        assert page.get_by_test_id("balance").inner_text() == _usd(5_000_000 - stored.charged_micros)
        tab.shot("00-overview")

        # keys page shows when the key was last used
        page.get_by_role("link", name="API keys").click()
        assert "never" not in page.locator("tr", has_text="browser-app").inner_text()

        # revoke with the keyboard: focus the row's Revoke link, Enter, then confirm with Enter
        page.get_by_role("link", name=re.compile("Revoke key browser-app")).focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/revoke")
        tab.shot("04-revoke-confirm")
        confirm = page.get_by_role("button", name="Revoke key")
        assert confirm.evaluate("el => el === document.activeElement")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/dashboard/keys\?revoked="))
        assert "was revoked" in page.get_by_role("status").inner_text()
        assert "revoked" in page.locator("tr", has_text="browser-app").inner_text()

        with openai.OpenAI(base_url=dash.base_url, api_key=full_key, max_retries=0) as sdk:
            with pytest.raises(openai.AuthenticationError) as failure:
                sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert failure.value.status_code == 401

        # sign out: the dashboard asks for a sign-in again
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/login?signed_out=1")
        page.goto("/dashboard/keys")
        assert "/login" in page.url

        foreign = [
            u for u in tab.requested if not u.startswith(dash.server.url + "/") and not u.startswith("data:")
        ]
        assert foreign == [], f"the pages requested other hosts: {foreign}"
    finally:
        tab.close()


def test_second_account_and_low_balance_in_the_browser(browser: Any, dash: Gateway) -> None:
    first = off_loop(make_owner, dash, name="first-owner")
    second = off_loop(make_owner, dash, usd="0.25", name="second-owner")
    tab = Tab(browser, dash)
    try:
        tab.sign_in(first)
        tab.page.goto("/dashboard/keys")
        tab.page.get_by_label("Name").fill("first-secret-app")
        tab.page.get_by_role("radio", name=re.compile("^BYOK")).check()
        tab.page.get_by_label("Provider base URL").fill(dash.sim_url + "/v1")
        tab.page.get_by_label("Provider API key").fill("sk-provider-browser-1")
        tab.page.get_by_role("button", name="Create key").click()
        tab.page.get_by_test_id("full-key").wait_for()
        assert "sk-provider-browser-1" not in tab.page.content()
        tab.page.goto("/dashboard/keys")
        key_id = tab.page.locator("tr", has_text="first-secret-app").get_attribute("data-key-id")
        assert key_id and "BYOK" in tab.page.locator("tr", has_text="first-secret-app").inner_text()
    finally:
        tab.close()
    tab = Tab(browser, dash)
    try:
        tab.sign_in(second)
        banner = tab.page.get_by_test_id("low-balance")
        assert banner.is_visible() and "$0.25" in banner.inner_text()
        tab.shot("07-low-balance")
        assert "first-secret-app" not in tab.page.content()
        tab.page.goto("/dashboard/keys")
        assert "first-secret-app" not in tab.page.content()
        response = tab.page.goto(f"/dashboard/keys/{key_id}/revoke")
        assert response is not None and response.status == 404
        tab.shot("08-not-found")
    finally:
        tab.close()


def _wait_for_usage(gw: Gateway, account_id: str, request_id: str) -> Any:
    """The usage row of ``request_id`` (settling happens right after the response is sent)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for row in off_loop(gw.usage, account_id):
            if row.request_id == request_id:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no usage row for {request_id}")


def _usd(micros: int) -> str:
    from opencompress.dashboard.format import usd

    return usd(micros)
