"""Self-contained offline HTML report: inline CSS, inline SVG charts, escaped text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape

import numpy as np

from optiflow.app.summary import BotSummary, FleetSummary, fleet_equity_curve
from optiflow.domain.results import FILTER_REASONS, BotRun
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report import shadow_rows
from optiflow.interfaces.report.fmt import (
    PNL_NOTE,
    money,
    num,
    pct,
    target_range,
    verdict,
)
from optiflow.interfaces.report.price_chart import price_svg
from optiflow.interfaces.report.svg import daily_svg, equity_svg, reasons_svg
from optiflow.marketdata.candles import CandleArrays

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
background:#fafafa}h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:2px solid #ddd}
.note{color:#555;font-size:14px}table{border-collapse:collapse;margin:10px 0;font-size:14px;
background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f0f0}
.below{color:#c62828;font-weight:600}.within,.above{color:#2e7d32;font-weight:600}
.chart{display:block;margin:10px 0;background:#fff;border:1px solid #e0e0e0;max-width:100%;
height:auto}.ct{font-size:13px;font-weight:600}.yl,.xl,.bl{font-size:11px;fill:#444}
.yl{text-anchor:end}.grid{stroke:#eee}.zero{stroke:#777;stroke-width:1}
.band{fill:#66bb6a;fill-opacity:.18;stroke:#66bb6a;stroke-dasharray:4 3}.bl{fill:#2e7d32}
"""
_Col = BotSummary | FleetSummary


def _name(col: _Col) -> str:
    """Return the display name of a bot summary or of the fleet."""
    return col.bot if isinstance(col, BotSummary) else "Fleet"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], raw: bool = False) -> str:
    """Render an HTML table; cells are escaped unless `raw` (caller-escaped) is set."""
    cell = (lambda v: v) if raw else escape
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _verdict_cell(col: _Col) -> str:
    """Return an escaped, styled verdict cell."""
    status = col.target.status if col.target else "none"
    return f'<span class="{escape(status)}">{escape(verdict(col.target))}</span>'


def _key_figures(cols: Sequence[_Col]) -> str:
    """Render the key figures table: figures down, bots (and fleet) across."""
    figures: list[tuple[str, list[str]]] = [
        ("Positions opened", [str(c.positions_opened) for c in cols]),
        ("Positions closed", [str(c.trades.positions_closed) for c in cols]),
        ("Exit fills (partials included)", [str(c.trades.exit_fills) for c in cols]),
        ("Win rate (per position)", [pct(c.trades.win_rate_pct) for c in cols]),
        (f"Net PnL ({PNL_NOTE})", [money(c.trades.net_pnl) for c in cols]),
        ("Fees", [money(c.trades.total_fees, signed=False) for c in cols]),
        ("Gross PnL (net + fees)", [money(c.trades.gross_pnl) for c in cols]),
        ("Return on starting balance", [pct(c.return_pct, 2) for c in cols]),
        ("Max drawdown $", [money(c.max_drawdown_usd, signed=False) for c in cols]),
        ("Max drawdown % of peak", [pct(c.max_drawdown_pct, 2) for c in cols]),
        ("Profit factor", [num(c.trades.profit_factor) for c in cols]),
        ("Average win", [money(c.trades.avg_win) for c in cols]),
        ("Average loss", [money(c.trades.avg_loss) for c in cols]),
        ("TP1 hit rate", [pct(c.trades.tp1_hit_rate_pct) for c in cols]),
        ("TP2 hit rate", [pct(c.trades.tp2_hit_rate_pct) for c in cols]),
        ("PnL per day", [money(c.pnl_per_day) for c in cols]),
        ("Target", [target_range(c.target) for c in cols]),
        (
            "Days at/above target min",
            [
                f"{c.target.days_at_or_above_min}/{c.target.days_total}" if c.target else "—"
                for c in cols
            ],
        ),
    ]
    rows = [[escape(label), *(escape(v) for v in values)] for label, values in figures]
    rows.append(["Verdict", *(_verdict_cell(c) for c in cols)])
    return _table(["Figure", *(_name(c) for c in cols)], rows, raw=True)


def _rejections(cols: Sequence[_Col]) -> str:
    """Render the filter rejection table: reason codes down, bots (and fleet) across."""
    extra = [r for c in cols for r, _ in c.rejections if r not in FILTER_REASONS]
    rows = [
        [reason, *(str(dict(c.rejections).get(reason, 0)) for c in cols)]
        for reason in (*FILTER_REASONS, *dict.fromkeys(extra))
    ]
    rows.append(["all", *(str(c.rejections_total) for c in cols)])
    return _table(["Reason", *(_name(c) for c in cols)], rows)


def _symbols(summary: BotSummary) -> str:
    """Render one bot's per-symbol counters and results."""
    head = [
        "Symbol",
        "Candles",
        "Primary",
        "Confirming",
        "1+1",
        "Entries",
        "NM group",
        "NM filter",
        "Rejections",
        "Fills",
        "Net PnL",
    ]
    rows = [
        [
            s.symbol,
            str(s.stats.candles),
            str(s.stats.primary),
            str(s.stats.confirming),
            str(s.stats.passes_1plus1),
            str(s.stats.entries),
            str(s.stats.near_miss_one_group),
            str(s.stats.near_miss_filter),
            str(sum(c for _, c in s.stats.rejections)),
            str(s.exit_fills),
            money(s.net_pnl),
        ]
        for s in summary.symbol_stats
    ]
    return _table(head, rows)


def _near_misses(summary: BotSummary) -> str:
    """Render one bot's latest near misses with their deciding values."""
    if not summary.latest_near_misses:
        return '<p class="note">No near misses recorded.</p>'
    rows = [
        [
            iso_utc(nm.ts),
            nm.symbol,
            nm.kind,
            nm.reason,
            ", ".join(f"{k}={v:.6g}" for k, v in nm.values),
        ]
        for nm in summary.latest_near_misses
    ]
    return _table(["Time (UTC)", "Symbol", "Kind", "Reason", "Deciding values"], rows)


def _shadows(summary: BotSummary) -> str:
    """Render one bot's shadow outcomes per filter and the biggest missed winners."""
    if summary.shadow_outcomes is None:
        return '<p class="note">Shadow outcomes are off (shadows.enabled is false).</p>'
    rows = [
        [name, str(b), str(w), str(lo), money(net), why]
        for name, b, w, lo, net, why in shadow_rows.shadow_rows(summary)
    ]
    top = [
        [
            iso_utc(int(m["ts"])) if isinstance(m["ts"], int) else str(m["ts"]),
            str(m["symbol"]),
            "+".join(m["reasons"]),
            money(Decimal(str(m["shadow_net_pnl"]))),
            str(m["exit_reason"]),
        ]
        for m in summary.shadow_top_missed
    ]
    return "".join(
        [
            _table(shadow_rows.HEADERS, rows),
            f'<p class="note">{escape(shadow_rows.READING)}</p>',
            "<h4>Top missed winners</h4>" if top else "",
            _table(["Time (UTC)", "Symbol", "Blocked by", "Shadow net PnL", "Exit"], top)
            if top
            else "",
        ]
    )


def _charts(col: _Col, curve: Sequence[tuple[int, Decimal]]) -> str:
    """Render the three charts of one bot or of the fleet."""
    name = _name(col)
    band = (col.target.daily_usd_min, col.target.daily_usd_max) if col.target else None
    if curve and curve[-1][0] < col.ts_end:  # hold the last equity flat to the end of the run
        curve = [*curve, (col.ts_end, curve[-1][1])]
    return "".join(
        [
            equity_svg(curve, f"{name}: equity ($, {PNL_NOTE})"),
            daily_svg(col.daily_pnl, band, f"{name}: daily PnL by UTC day vs target band"),
            reasons_svg(col.trades.exit_reasons, f"{name}: exit reasons by net PnL (fills)"),
        ]
    )


def _prices(
    summary: BotSummary, run: BotRun | None, prices: Mapping[str, CandleArrays] | None
) -> list[str]:
    """One price chart per pair with the bot's entries and exits marked."""
    exits = run.exits if run else ()
    out: list[str] = []
    for sym in summary.symbols:
        c = (prices or {}).get(sym)
        if c is None:
            continue
        lo = int(np.searchsorted(c.ts, summary.ts_start, side="left"))
        hi = int(np.searchsorted(c.ts, summary.ts_end, side="left"))
        title = f"{summary.bot} {sym}: price (low–high), ▲ entries, ● exits (green gain, red loss)"
        out.append(price_svg(sym, c.ts[lo:hi], c.low[lo:hi], c.high[lo:hi], exits, title))
    return out


def _notes(summary: BotSummary) -> str:
    """The run's notes: ruin and warnings in red, the PnL/day basis plain."""
    return "".join(
        f'<p class="{"below" if n.startswith(("RUINED", "WARNING")) else "note"}">'
        f"{escape(n)}</p>"
        for n in summary.notes
    )


def render_html(
    summaries: Sequence[BotSummary],
    fleet: FleetSummary | None,
    runs: Sequence[BotRun],
    prices: Mapping[str, CandleArrays] | None = None,
) -> str:
    """Render a single offline HTML page with key figures, charts and tables."""
    by_bot = {r.bot: r for r in runs}
    cols: list[_Col] = [*summaries, *([fleet] if fleet is not None else [])]
    body = [
        "<h1>OptiFlow backtest report</h1>",
        f'<p class="note">All PnL is {escape(PNL_NOTE)} as modelled by the backtest. '
        "Targets are the user's goals, shown against measured figures, never promised.</p>",
    ]
    if cols:
        body += ["<h2>Key figures</h2>", _key_figures(cols)]
        body += ["<h2>Filter rejections (summed over symbols)</h2>", _rejections(cols)]
    else:
        body.append("<p>No bot runs to report.</p>")
    if fleet is not None:
        span = f"{iso_utc(fleet.ts_start)} → {iso_utc(fleet.ts_end)}"
        body += [
            f"<h2>Fleet ({len(fleet.bots)} bots)</h2>",
            f'<p class="note">{escape(span)} · fleet PnL/day is the sum of the bots\' '
            f"PnL/day; target is the sum of the bots' targets "
            f"({fleet.bots_with_target} of {len(fleet.bots)} bots have one).</p>",
            _charts(fleet, fleet_equity_curve(runs)),
        ]
    for s in summaries:
        run = by_bot.get(s.bot)
        curve = [(s.ts_start, s.starting_balance), *(run.equity_curve if run else ())]
        body += [
            f"<h2>{escape(s.bot)}</h2>",
            f'<p class="note">{escape(", ".join(s.symbols))} · '
            f"{escape(iso_utc(s.ts_start))} → {escape(iso_utc(s.ts_end))} · "
            f"{escape(num(s.days, 2))} days · start "
            f"{escape(money(s.starting_balance, signed=False))} · final "
            f"{escape(money(s.final_balance, signed=False))}</p>",
            _notes(s),
            _charts(s, curve),
            *_prices(s, run, prices),
            "<h3>Per symbol</h3>",
            _symbols(s),
            f"<h3>{escape(shadow_rows.TITLE)}</h3>",
            _shadows(s),
            "<h3>Latest near misses</h3>",
            _near_misses(s),
        ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>OptiFlow backtest report</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
