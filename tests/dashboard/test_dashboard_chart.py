"""The server-side SVG chart and the dashboard's number formats (pure functions, no server)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from opencompress.dashboard.chart import ChartDay, money_tick, render_chart, tick_step
from opencompress.dashboard.format import millis, percent, tokens, usd, when

SVG = "{http://www.w3.org/2000/svg}"


def _days(values: list[tuple[int, float | None]]) -> list[ChartDay]:
    start = date(2025, 6, 1)
    return [
        ChartDay(day=start + timedelta(days=i), savings_micros=s, rate=r) for i, (s, r) in enumerate(values)
    ]


@pytest.mark.parametrize(
    ("max_micros", "step"),
    [(0, 2_500), (1, 1), (4, 1), (5, 2), (9, 5), (60, 20), (61, 20), (81, 50), (1_234_567, 500_000)],
)
def test_tick_step_is_a_round_integer_that_covers_the_maximum(max_micros: int, step: int) -> None:
    assert tick_step(max_micros) == step
    assert step * 4 >= max_micros


@pytest.mark.parametrize(
    ("micros", "label"),
    [(0, "$0"), (5, "$0.000005"), (2_500, "$0.0025"), (1_500_000, "$1.5"), (2_000_000, "$2")],
)
def test_money_tick_labels_are_exact(micros: int, label: str) -> None:
    assert money_tick(micros) == label


def test_chart_draws_bars_for_saving_days_and_breaks_the_rate_line_on_quiet_days() -> None:
    days = _days([(100, 0.5), (300, 0.6), (0, None), (200, 0.7), (0, 0.9), (50, 0.4)])
    svg = ET.fromstring(str(render_chart(days)))
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 4  # the day with calls but no saving has a rate point, no bar
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[1] == max(heights) and heights[1] / heights[0] == pytest.approx(3, rel=0.02)
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 3]
    assert len(svg.findall(f"{SVG}circle")) == 5
    ticks = [t.text for t in svg.findall(f"{SVG}text")]
    assert "$0.0004" in ticks and "100%" in ticks  # step 100 micros x 4; the rate axis
    assert svg.get("role") == "img" and svg.find(f"{SVG}title") is not None
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and "5 days with calls" in (desc.text or "")


def test_an_empty_chart_says_so_and_keeps_a_sensible_axis() -> None:
    svg = ET.fromstring(str(render_chart(_days([(0, None)] * 30))))
    texts = [t.text for t in svg.findall(f"{SVG}text")]
    assert "No calls in these days yet" in texts
    assert "$0.01" in texts and not any(t and re.fullmatch(r"\$0\.00000\d", t) for t in texts)
    assert svg.findall(f"{SVG}rect") == []
    labels = [t for t in texts if t and re.fullmatch(r"\d\d-\d\d", t)]
    assert labels[-1] == "06-30"  # the last day (today) always has its label


def test_chart_text_is_escaped() -> None:
    markup = str(render_chart(_days([(10, 0.5)]), title="<script>alert(1)</script>"))
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_formats() -> None:
    assert usd(5_000_000) == "$5.00"
    assert usd(1_234) == "$0.001234"
    assert usd(4_999_546) == "$4.999546"
    assert usd(-20) == "-$0.00002"
    assert usd(None) == "—"
    assert tokens(1234567) == "1,234,567"
    assert percent(0.8412) == "84.1%" and percent(None) == "—"
    assert str(when(0)) == '<time datetime="1970-01-01T00:00:00Z">1970-01-01 00:00:00 UTC</time>'
    assert str(when(None)) == "never"
    assert millis(0.42) == "0.4 ms" and millis(1234.5) == "1,234 ms" and millis(None) == "—"
