"""How numbers and times look on the dashboard (Jinja filters).

Money stays exact: amounts are integer micro-dollars and a single request often costs a fraction
of a cent, so rounding to cents would show most rows as ``$0.00``. :func:`usd` prints every
significant micro-dollar and trims only trailing zeros past the cents. Times are UTC, because the
usage filters and the chart's days are UTC days too.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from opencompress.money import format_usd


def usd(micros: int | None) -> str:
    """``5_000_000`` → ``$5.00``; ``1_234`` → ``$0.001234``; ``None`` → ``—``."""
    if micros is None:
        return "—"
    text = format_usd(int(micros))
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    return f"{whole}.{frac.ljust(2, '0')}"


def tokens(count: int | None) -> str:
    """``12345`` → ``12,345``."""
    return "—" if count is None else f"{int(count):,}"


def percent(fraction: float | None, digits: int = 1) -> str:
    """``0.4213`` → ``42.1%``; ``None`` (nothing to compare) → ``—``."""
    return "—" if fraction is None else f"{fraction * 100:.{digits}f}%"


def utc_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def when(ts: float | None, *, never: str = "never", suffix: bool = True) -> Markup:
    """A ``<time>`` element with the machine-readable instant and a short UTC text (``suffix``:
    append " UTC"; tables leave it out, the page footer says times are UTC)."""
    moment = utc_datetime(ts)
    if moment is None:
        return Markup(escape(never))
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    label = f"{moment:%Y-%m-%d %H:%M:%S}" + (" UTC" if suffix else "")
    return Markup(f'<time datetime="{iso}">{label}</time>')


def millis(value: float | None) -> str:
    """``1234.5`` → ``1,234 ms``; under 10 ms one decimal (``0.4 ms``), so fast steps are not "0 ms"."""
    if value is None:
        return "—"
    return f"{value:.1f} ms" if value < 10 else f"{value:,.0f} ms"


FILTERS = {
    "usd": usd,
    "tokens": tokens,
    "percent": percent,
    "when": when,
    "millis": millis,
}
