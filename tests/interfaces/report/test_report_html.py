"""The HTML report: self-contained, offline, escaped, one SVG per chart, bounded points."""

from __future__ import annotations

import re
from decimal import Decimal

from optiflow.app.summary import summarize, summarize_fleet
from optiflow.domain.results import BotRun
from optiflow.interfaces.report.html import render_html
from optiflow.interfaces.report.svg import MAX_POINTS, downsample, equity_svg


def _html(runs: list[BotRun]) -> str:
    """Render the report for the runs with a fleet section."""
    return render_html([summarize(r) for r in runs], summarize_fleet(runs), runs)


def test_one_svg_per_chart_and_offline(runs: list[BotRun]) -> None:
    """Three charts per bot and for the fleet; no network references or scripts."""
    page = _html(runs)
    assert page.count("<svg") == 3 * (len(runs) + 1)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "<style>" in page


def test_text_is_escaped(runs: list[BotRun]) -> None:
    """A bot name with markup characters appears escaped only."""
    page = _html(runs)
    assert "<B&>" not in page and "&lt;B&amp;&gt;" in page


def test_key_figures_and_target_band(runs: list[BotRun]) -> None:
    """Key figures, verdict, target band label and rejection table are on the page."""
    page = _html(runs)
    assert "net of fees &amp; slippage" in page
    assert "-$0.80" in page and "below target" in page and "50.0 %" in page
    assert "target $15.00–$25.00/day" in page
    assert "<td>spread</td>" in page


def test_equity_points_bounded(runs: list[BotRun]) -> None:
    """A 5000-point equity curve is drawn with at most 2000 polyline points."""
    svg = equity_svg(runs[0].equity_curve, "A")
    match = re.search(r'<polyline points="([^"]+)"', svg)
    assert match is not None
    assert 2 <= len(match.group(1).split()) <= MAX_POINTS


def test_downsample_keeps_ends_and_extremes() -> None:
    """Downsampling keeps the first and last points and the global min and max."""
    points = [(i, float((i * 37) % 1001)) for i in range(10_000)]
    points[5000] = (5000, -50.0)
    out = downsample(points)
    assert len(out) <= MAX_POINTS and out[0] == points[0] and out[-1] == points[-1]
    assert min(v for _, v in out) == -50.0 and max(v for _, v in out) == 1000.0
    assert [t for t, _ in out] == sorted(t for t, _ in out)


def test_empty_report_renders() -> None:
    """No runs at all still renders a valid page."""
    page = render_html([], None, [])
    assert page.startswith("<!DOCTYPE html>") and "No bot runs" in page
    assert equity_svg([(0, Decimal(1))], "x").count("<svg") == 1
