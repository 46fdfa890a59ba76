"""Chart details a trader reads: exit-reason bars sized by net PnL, round axis ticks."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np

from optiflow.app.summary import ReasonFigure
from optiflow.interfaces.report.price_chart import price_columns
from optiflow.interfaces.report.svg import equity_svg, nice_ticks, reasons_svg


def test_exit_reason_bars_are_sized_by_net_pnl_with_fills_as_label() -> None:
    """Many small TP1 wins draw a shorter bar than a few large stop-loss losses."""
    svg = reasons_svg(
        [ReasonFigure("tp1", 900, Decimal("120")), ReasonFigure("sl", 300, Decimal("-952"))],
        "t",
    )
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and widths[1] > 7 * widths[0]
    assert "-$952.00 · 300 fills" in svg and "900 fills" in svg


def test_axis_ticks_are_round_numbers() -> None:
    """Ticks are 1, 2, 2.5 or 5 times a power of ten and cover the data range."""
    assert nice_ticks(958.3, 1003.2) == [940, 960, 980, 1000, 1020]
    assert nice_ticks(-952.0, 120.0) == [-1000, -500, 0, 500]
    svg = equity_svg([(0, Decimal("975.30")), (86_400_000, Decimal("1003.2"))], "eq")
    labels = re.findall(r'class="yl">([^<]+)<', svg)
    assert labels and all(re.fullmatch(r"\$[\d,]+0", label) for label in labels), labels


def test_price_columns_keep_min_and_max_per_pixel() -> None:
    """66,000 candles become at most one (low, high) per column, extremes kept."""
    n = 66_000
    ts = np.arange(n, dtype=np.int64) * 60_000
    low = np.full(n, 100.0)
    high = np.full(n, 101.0)
    low[12_345], high[54_321] = 50.0, 250.0
    cols = price_columns(ts, low, high, 666)
    assert len(cols) <= 666
    assert min(c[1] for c in cols) == 50.0 and max(c[2] for c in cols) == 250.0
