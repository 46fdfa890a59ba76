"""Inline SVG charts built as strings: equity curve, daily PnL bars, exit-reason bars."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from html import escape

from optiflow.app.summary import ReasonFigure
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report.fmt import money

MAX_POINTS = 2000
WIDTH = 760
HEIGHT = 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 16, 26, 36
_GREEN, _RED, _BLUE = "#2e7d32", "#c62828", "#1565c0"


def downsample(
    points: Sequence[tuple[int, float]], limit: int = MAX_POINTS
) -> list[tuple[int, float]]:
    """Reduce points to at most `limit`, keeping each bucket's min and max (and the ends)."""
    if len(points) <= limit:
        return list(points)
    buckets = max(1, (limit - 2) // 2)
    inner = points[1:-1]
    size = len(inner) / buckets
    out = [points[0]]
    for b in range(buckets):
        chunk = inner[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        lo = min(range(len(chunk)), key=lambda i: chunk[i][1])
        hi = max(range(len(chunk)), key=lambda i: chunk[i][1])
        out.extend(chunk[i] for i in sorted({lo, hi}))
    out.append(points[-1])
    return out


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> tuple[float, float]:
    """Return (factor, offset) mapping [lo, hi] onto [out_lo, out_hi] (a flat range is padded)."""
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0
    factor = (out_hi - out_lo) / (hi - lo)
    return factor, out_lo - lo * factor


def _open(title: str, height: int = HEIGHT) -> list[str]:
    """Start an SVG element with a title line."""
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{_LEFT}" y="16" class="ct">{escape(title)}</text>',
    ]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 x 10^k apart) covering [lo, hi] with about ``count``."""
    span = hi - lo if hi - lo > 1e-12 else max(abs(hi), 1.0)
    raw = span / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(first + step * len(ticks))
    return [round(t, 10) for t in ticks]


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """The range [lo, hi] widened to the outer round ticks."""
    ticks = nice_ticks(lo, hi)
    return ticks[0], ticks[-1]


def _y_ticks(lo: float, hi: float, k: float, c: float, count: int = 5) -> list[str]:
    """Draw horizontal grid lines with $ labels at round values."""
    parts = []
    for value in nice_ticks(lo, hi, count):
        y = k * value + c
        parts.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="yl">'
            f"{escape(_tick_money(value))}</text>"
        )
    return parts


def _tick_money(value: float) -> str:
    """A round tick as money without needless decimals: $975, $57.5, $0.25."""
    text = f"{abs(value):,.6f}".rstrip("0").rstrip(".")
    return ("-$" if value < 0 else "$") + text


def _x_label(x: float, text: str, anchor: str = "middle") -> str:
    """Draw one x-axis label under the plot."""
    return (
        f'<text x="{x:.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="{anchor}" class="xl">'
        f"{escape(text)}</text>"
    )


def equity_svg(curve: Sequence[tuple[int, Decimal]], title: str) -> str:
    """Render an equity curve as an SVG polyline with $ and date axis labels."""
    parts = _open(title)
    points = downsample([(ts, float(eq)) for ts, eq in curve])
    if len(points) < 2:
        parts.append(f'<text x="{_LEFT}" y="{HEIGHT // 2}" class="xl">not enough points</text>')
        return "".join([*parts, "</svg>"])
    t0, t1 = points[0][0], points[-1][0]
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    lo, hi = nice_range(lo, hi)
    kx, cx = _scale(t0, t1, _LEFT, WIDTH - _RIGHT)
    ky, cy = _scale(lo, hi, HEIGHT - _BOTTOM, _TOP)
    parts += _y_ticks(lo, hi, ky, cy)
    coords = " ".join(f"{kx * t + cx:.1f},{ky * v + cy:.1f}" for t, v in points)
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{_BLUE}" stroke-width="1.5"/>')
    span_days = (t1 - t0) / 86_400_000
    cut = 10 if span_days >= 3 else 16
    for i in range(4):
        ts = t0 + (t1 - t0) * i // 3
        anchor = "start" if i == 0 else ("end" if i == 3 else "middle")
        parts.append(_x_label(kx * ts + cx, iso_utc(ts)[:cut].replace("T", " "), anchor))
    return "".join([*parts, "</svg>"])


def daily_svg(
    daily: Sequence[tuple[date, Decimal]],
    band: tuple[Decimal, Decimal] | None,
    title: str,
) -> str:
    """Render daily PnL bars (green ≥ 0, red < 0) against a shaded target band."""
    parts = _open(title)
    if not daily:
        parts.append(f'<text x="{_LEFT}" y="{HEIGHT // 2}" class="xl">no days</text>')
        return "".join([*parts, "</svg>"])
    values = [float(v) for _, v in daily]
    extra = [float(band[0]), float(band[1])] if band else []
    lo, hi = nice_range(min([0.0, *values, *extra]), max([0.0, *values, *extra]))
    ky, cy = _scale(lo, hi, HEIGHT - _BOTTOM, _TOP)
    parts += _y_ticks(lo, hi, ky, cy)
    plot_w = WIDTH - _LEFT - _RIGHT
    slot = plot_w / len(daily)
    if band:
        y_hi, y_lo = ky * float(band[1]) + cy, ky * float(band[0]) + cy
        label = f"target {money(band[0], signed=False)}–{money(band[1], signed=False)}/day"
        parts.append(
            f'<rect x="{_LEFT}" y="{y_hi:.1f}" width="{plot_w}" height="{max(y_lo - y_hi, 1):.1f}" '
            f'class="band"><title>{escape(label)}</title></rect>'
            f'<text x="{WIDTH - _RIGHT - 4}" y="{y_hi - 3:.1f}" text-anchor="end" class="bl">'
            f"{escape(label)}</text>"
        )
    zero = ky * 0.0 + cy
    for i, (day, value) in enumerate(daily):
        y = ky * float(value) + cy
        top, height = min(y, zero), max(abs(zero - y), 0.5)
        colour = _GREEN if value >= 0 else _RED
        parts.append(
            f'<rect x="{_LEFT + i * slot + slot * 0.1:.2f}" y="{top:.1f}" '
            f'width="{max(slot * 0.8, 0.5):.2f}" height="{height:.1f}" fill="{colour}">'
            f"<title>{escape(day.isoformat())}: {escape(money(value))}</title></rect>"
        )
    parts.append(
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" class="zero"/>'
    )
    parts.append(_x_label(_LEFT, daily[0][0].isoformat(), "start"))
    if len(daily) > 1:
        parts.append(_x_label(WIDTH - _RIGHT, daily[-1][0].isoformat(), "end"))
    return "".join([*parts, "</svg>"])


def reasons_svg(reasons: Sequence[ReasonFigure], title: str) -> str:
    """Render exit reasons as bars sized by net PnL (green gain, red loss), fills as label."""
    shown = [r for r in reasons if r.count > 0]
    row_h = 22
    height = _TOP + 14 + row_h * max(len(shown), 1)
    parts = _open(title, height)
    if not shown:
        parts.append(f'<text x="{_LEFT}" y="{_TOP + 20}" class="xl">no exits</text>')
        return "".join([*parts, "</svg>"])
    label_w, text_w = 110, 200
    bar_max = WIDTH - _RIGHT - label_w - text_w
    top_pnl = max(abs(float(r.pnl)) for r in shown) or 1.0
    for i, r in enumerate(shown):
        y = _TOP + 6 + i * row_h
        width = max(bar_max * abs(float(r.pnl)) / top_pnl, 1.0)
        colour = _GREEN if r.pnl >= 0 else _RED
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" class="yl">'
            f"{escape(r.reason)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 13}" class="xl">'
            f"{escape(money(r.pnl))} · {r.count} fills</text>"
        )
    return "".join([*parts, "</svg>"])
