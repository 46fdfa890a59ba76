"""One SVG chart per pair: the price (min/max per pixel column) with entries and exits marked."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from optiflow.domain.results import ExitRow
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report.svg import HEIGHT, WIDTH, nice_ticks

_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 16, 26, 36
_GREEN, _RED, _BLUE, _GREY = "#2e7d32", "#c62828", "#1565c0", "#90a4ae"


def price_columns(
    ts: np.ndarray, low: np.ndarray, high: np.ndarray, columns: int
) -> list[tuple[int, float, float]]:
    """(first ts, min low, max high) of each of ``columns`` equal time buckets that hold data."""
    if len(ts) == 0:
        return []
    t0, t1 = int(ts[0]), int(ts[-1]) + 1
    edges = np.linspace(t0, t1, columns + 1)
    idx = np.searchsorted(ts, edges)
    out = []
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        if b > a:
            out.append((int(ts[a]), float(low[a:b].min()), float(high[a:b].max())))
    return out


def _fmt(value: float) -> str:
    """A price tick label without needless decimals."""
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def price_svg(
    symbol: str,
    ts: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    exits: Sequence[ExitRow],
    title: str,
) -> str:
    """The pair's price range per pixel column, ▲ at each entry and ● at each exit fill."""
    plot_w = WIDTH - _LEFT - _RIGHT
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{_LEFT}" y="16" class="ct">{escape(title)}</text>',
    ]
    cols = price_columns(ts, low, high, plot_w)
    if not cols:
        parts.append(f'<text x="{_LEFT}" y="{HEIGHT // 2}" class="xl">no candles</text></svg>')
        return "".join(parts)
    t0, t1 = int(ts[0]), int(ts[-1]) + 1
    ticks = nice_ticks(min(c[1] for c in cols), max(c[2] for c in cols))
    lo, hi = ticks[0], ticks[-1]
    kx = plot_w / max(t1 - t0, 1)
    ky = (HEIGHT - _BOTTOM - _TOP) / max(hi - lo, 1e-12)

    def x(t: int) -> float:
        return _LEFT + (t - t0) * kx

    def y(v: float) -> float:
        return HEIGHT - _BOTTOM - (v - lo) * ky

    for v in ticks:
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'class="grid"/><text x="{_LEFT - 6}" y="{y(v) + 4:.1f}" class="yl">{_fmt(v)}</text>'
        )
    path = " ".join(f"M{x(t):.1f},{y(h):.1f}V{max(y(lo_), y(h) + 0.6):.1f}" for t, lo_, h in cols)
    parts.append(f'<path d="{path}" stroke="{_GREY}" stroke-width="1" fill="none"/>')
    entries = {(r.position_id, r.ts_entry, r.entry_price) for r in exits if r.symbol == symbol}
    for _, t, price in sorted(entries, key=lambda e: e[1]):
        px, py = x(t), y(float(price))
        parts.append(
            f'<path d="M{px:.1f},{py - 1:.1f}l-4,7h8z" fill="{_BLUE}">'
            f"<title>entry {escape(iso_utc(t))} @ {price}</title></path>"
        )
    for r in exits:
        if r.symbol != symbol:
            continue
        colour = _GREEN if r.net_pnl >= 0 else _RED
        parts.append(
            f'<circle cx="{x(r.ts_exit):.1f}" cy="{y(float(r.exit_price)):.1f}" r="3" '
            f'fill="{colour}"><title>{escape(r.reason)} {escape(iso_utc(r.ts_exit))} @ '
            f"{r.exit_price}: {r.net_pnl:+.4f}</title></circle>"
        )
    for i in range(4):
        t = t0 + (t1 - t0) * i // 3
        anchor = "start" if i == 0 else ("end" if i == 3 else "middle")
        parts.append(
            f'<text x="{x(t):.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="{anchor}" '
            f'class="xl">{escape(iso_utc(t)[:16].replace("T", " "))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
