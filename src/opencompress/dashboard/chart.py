"""The overview chart, drawn on the server as inline SVG.

Why SVG from Python rather than a JS chart library: the page then makes no script or network
request to show it, works with JavaScript off, is part of the same HTML the tests read, and the
numbers are the very integers the usage rows hold. The chart has two series on one time axis:
bars for the money compression saved the user each UTC day (gross savings minus the fee; left
axis) and a line for that day's compression rate (right axis, 0-100 %), which is the API's
``compressionRate``: compressed ÷ original input tokens, so lower means more was removed. Days
without calls get no bar and break the line, so a quiet day is not drawn as a rate of 0 %.
Screen readers get a ``<title>``/``<desc>``, and the page renders the same numbers as a table
next to the chart.

Every string placed in the SVG goes through :func:`markupsafe.escape`; the styling is done by CSS
classes (the page's Content-Security-Policy forbids inline ``style`` attributes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH = 760
HEIGHT = 260
PAD_LEFT = 76
PAD_RIGHT = 48
PAD_TOP = 16
PAD_BOTTOM = 36
Y_TICKS = 4


@dataclass(frozen=True, kw_only=True)
class ChartDay:
    """One UTC day of the chart; ``rate`` is the compression rate (share of input tokens kept,
    0..1), ``None`` on a day without calls."""

    day: date
    savings_micros: int
    rate: float | None


EMPTY_STEP_MICROS = 2_500
"""Tick step when nothing was saved: a $0.01 axis rather than one of fractions of a micro-dollar."""


def tick_step(max_micros: int, ticks: int = Y_TICKS) -> int:
    """The smallest 1, 2 or 5 × 10^k micro-dollars such that ``ticks`` steps reach ``max_micros``.

    Integer steps keep every tick label an exact amount (money is integer micro-dollars)."""
    if max_micros <= 0:
        return EMPTY_STEP_MICROS
    needed = math.ceil(max_micros / ticks)
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= needed:
                return factor * magnitude
        magnitude *= 10


def money_tick(micros: int) -> str:
    """Axis label for a dollar amount, exact with as few decimals as it needs (``$0.0025``)."""
    if micros == 0:
        return "$0"
    whole, frac = divmod(micros, 1_000_000)
    digits = f"{frac:06d}".rstrip("0")
    return f"${whole}.{digits}" if digits else f"${whole}"


def render_chart(days: Sequence[ChartDay], *, title: str = "Daily savings and compression rate") -> Markup:
    """The chart as an ``<svg>`` element (safe markup). ``days`` must be consecutive, oldest first."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    step = tick_step(max((d.savings_micros for d in days), default=0))
    top = step * Y_TICKS
    slot = plot_w / max(1, len(days))
    bottom_y = PAD_TOP + plot_h

    def y_money(micros: float) -> float:
        return bottom_y - plot_h * (micros / top)

    def y_rate(rate: float) -> float:
        return bottom_y - plot_h * rate

    parts: list[str] = []
    for i in range(Y_TICKS + 1):
        frac = i / Y_TICKS
        y = bottom_y - plot_h * frac
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(money_tick(step * i))}</text>"
        )
        parts.append(
            f'<text class="tick" x="{WIDTH - PAD_RIGHT + 8}" y="{y + 4:.1f}">{round(frac * 100)}%</text>'
        )
    label_every = max(1, math.ceil(len(days) / 8))
    for i, d in enumerate(days):
        x = PAD_LEFT + i * slot
        if d.savings_micros > 0:
            y = y_money(d.savings_micros)
            parts.append(
                f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
                f'height="{bottom_y - y:.1f}"><title>{escape(d.day.isoformat())}: '
                f"{escape(money_tick(d.savings_micros))} saved</title></rect>"
            )
        if (len(days) - 1 - i) % label_every == 0:  # counted from today, so today is labelled
            parts.append(
                f'<text class="tick" x="{x + slot / 2:.1f}" y="{bottom_y + 18}" text-anchor="middle">'
                f"{escape(d.day.strftime('%m-%d'))}</text>"
            )
    parts.extend(_rate_line(days, slot, y_rate))
    active = [d for d in days if d.rate is not None]
    if not active:
        parts.append(
            f'<text class="empty" x="{PAD_LEFT + plot_w / 2:.1f}" y="{PAD_TOP + plot_h / 2:.1f}" '
            'text-anchor="middle">No calls in these days yet</text>'
        )
    desc = (
        f"{len(days)} days from {days[0].day.isoformat()} to {days[-1].day.isoformat()}; "
        f"{len(active)} days with calls; total saved {money_tick(sum(d.savings_micros for d in days))}."
        if days
        else "No days to show."
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{escape(desc)}</desc>'
        + "".join(parts)
        + "</svg>"
    )


def _rate_line(days: Sequence[ChartDay], slot: float, y_rate: Callable[[float], float]) -> list[str]:
    """Polylines through the days with calls, broken at days without; a dot on every point."""
    parts: list[str] = []
    run: list[str] = []
    for i, d in enumerate(days):
        if d.rate is None:
            if len(run) > 1:
                parts.append(f'<polyline class="rate" points="{" ".join(run)}"/>')
            run = []
            continue
        x = PAD_LEFT + i * slot + slot / 2
        y = y_rate(min(1.0, max(0.0, d.rate)))
        run.append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle class="rate-dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>'
            f"{escape(d.day.isoformat())}: {d.rate * 100:.1f}% compression rate</title></circle>"
        )
    if len(run) > 1:
        parts.append(f'<polyline class="rate" points="{" ".join(run)}"/>')
    return parts
