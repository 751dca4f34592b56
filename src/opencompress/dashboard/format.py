"""How numbers and times look on the dashboard (Jinja filters).

Money stays exact: amounts are integer micro-dollars and a single request often costs a fraction
of a cent, so rounding to cents would show most rows as ``$0.00``. :func:`usd` prints every
significant micro-dollar and trims only trailing zeros past the cents. Times are UTC, because the
usage filters and the chart's days are UTC days too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from markupsafe import Markup, escape

from opencompress.errors import InvalidRequestError
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


def reduction(original: int, compressed: int) -> float | None:
    """Share of input tokens compression removed; ``None`` without input tokens."""
    if original <= 0:
        return None
    return max(0.0, (original - compressed) / original)


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
    return "—" if value is None else f"{value:,.0f} ms"


def day_start(day: date) -> float:
    """Unix time of 00:00 UTC on ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def parse_day(text: str | None, *, param: str) -> date | None:
    """``YYYY-MM-DD`` (an ``<input type=date>`` value) → date; empty → ``None``; anything else →
    ``InvalidRequestError`` naming the field (shown next to the filter form)."""
    if not text or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequestError(f"{param} must be a date like 2025-01-31", param=param) from None


FILTERS = {
    "usd": usd,
    "tokens": tokens,
    "percent": percent,
    "when": when,
    "millis": millis,
}
