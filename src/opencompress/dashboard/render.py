"""Rendering dashboard pages: one Jinja environment, one set of security headers.

Every page is private to a signed-in person and may show account data (the key-creation result
even shows a secret once), so every response says ``Cache-Control: no-store``. The referrer
policy is ``same-origin``: nothing about the dashboard leaks to other hosts, while same-origin form
posts keep a real ``Origin`` header (``no-referrer`` would make Chromium send ``Origin: null``,
which the console's same-origin check rightly refuses). The Content-Security-Policy allows only
this origin's own CSS and JS (no inline script or style, no other host), which is also how "the
page makes no external requests" is enforced by the browser rather than by review alone.
Autoescaping is on for every template.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from opencompress.dashboard.format import FILTERS

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_PREFIX = "/dashboard/static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@cache
def static_url(name: str) -> str:
    """URL of a static file with a content hash, so a new release is never served a stale CSS."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PREFIX}/{name}?v={digest}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    env.globals["static_url"] = static_url
    return env


def page(
    template: str, *, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response:
    """Render ``template`` with ``context`` into an HTML response with the security headers."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
