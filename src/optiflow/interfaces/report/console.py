"""Rich console report of backtest summaries: results, target verdicts, exits, filters."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from optiflow.app.summary import MIN_DAYS, MS_PER_DAY, BotSummary, FleetSummary
from optiflow.domain.results import FILTER_REASONS
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.report import shadow_rows
from optiflow.interfaces.report.fmt import (
    DASH,
    PNL_NOTE,
    money,
    num,
    pct,
    target_range,
    verdict,
    verdict_style,
)

MAX_NEAR_MISS_ROWS = 10
_Row = BotSummary | FleetSummary


# the values that decide each filter, shown for its near misses (all are kept in summary.json)
DECIDING: dict[str, tuple[str, ...]] = {
    "spread": ("spread_pct",),
    "volume": ("volume", "vol_median"),
    "atr": ("atr", "atr_median"),
}


def _name(row: _Row) -> str:
    """Return the display name of a bot summary or of the fleet."""
    return row.bot if isinstance(row, BotSummary) else f"Fleet ({len(row.bots)})"


def _results_table(rows: Sequence[_Row]) -> Table:
    """Build the per-bot results table (PnL net of fees and slippage)."""
    table = Table(title=f"Results per bot — PnL {PNL_NOTE}", title_justify="left")
    table.add_column("Bot", no_wrap=True)
    table.add_column("Pos.\nopen/closed", justify="right")
    table.add_column("Exit\nfills", justify="right")
    table.add_column("Win\nrate", justify="right")
    table.add_column("Net PnL", justify="right")
    table.add_column("Fees", justify="right")
    table.add_column("Return", justify="right")
    table.add_column("Max DD", justify="right")
    table.add_column("Profit\nfactor", justify="right")
    for i, row in enumerate(rows):
        tr = row.trades
        net_style = "green" if tr.net_pnl > 0 else ("red" if tr.net_pnl < 0 else "")
        table.add_row(
            _name(row),
            f"{row.positions_opened}/{tr.positions_closed}",
            str(tr.exit_fills),
            pct(tr.win_rate_pct),
            Text(money(tr.net_pnl), style=net_style),
            money(tr.total_fees, signed=False),
            pct(row.return_pct, 2),
            f"{money(row.max_drawdown_usd, signed=False)} ({pct(row.max_drawdown_pct)})",
            num(tr.profit_factor),
            end_section=isinstance(row, BotSummary) and i + 2 == len(rows),
            style="bold" if isinstance(row, FleetSummary) else None,
        )
    return table


def _target_table(rows: Sequence[_Row]) -> Table:
    """Build the PnL-per-day versus target table with hit rates."""
    table = Table(
        title="PnL per day vs target (targets shown, never promised)", title_justify="left"
    )
    table.add_column("Bot", no_wrap=True)
    table.add_column("Days", justify="right")
    table.add_column("PnL/day", justify="right")
    table.add_column("Target", justify="right")
    table.add_column("Verdict", no_wrap=True)
    table.add_column("Days ≥\nmin", justify="right")
    table.add_column("TP1\nhit", justify="right")
    table.add_column("TP2\nhit", justify="right")
    for i, row in enumerate(rows):
        span = Decimal(row.ts_end - row.ts_start) / MS_PER_DAY
        days = row.days if isinstance(row, BotSummary) else max(span, MIN_DAYS)
        tgt = row.target
        at_min = DASH if tgt is None else f"{tgt.days_at_or_above_min}/{tgt.days_total}"
        table.add_row(
            _name(row),
            num(days, 2),
            money(row.pnl_per_day),
            target_range(tgt),
            Text(verdict(tgt), style=verdict_style(tgt)),
            at_min,
            pct(row.trades.tp1_hit_rate_pct),
            pct(row.trades.tp2_hit_rate_pct),
            end_section=isinstance(row, BotSummary) and i + 2 == len(rows),
            style="bold" if isinstance(row, FleetSummary) else None,
        )
    return table


def _exit_table(summaries: Sequence[BotSummary]) -> Table:
    """Build the exit-reason table: reasons down, bots across, then total fills and PnL."""
    table = Table(title="Exit fills by reason", title_justify="left")
    table.add_column("Reason", no_wrap=True)
    for s in summaries:
        table.add_column(s.bot, justify="right", overflow="fold")
    table.add_column("Total", justify="right")
    table.add_column("PnL (net)", justify="right")
    reasons = [r.reason for r in summaries[0].trades.exit_reasons] if summaries else []
    for reason in reasons:
        figures = [next(r for r in s.trades.exit_reasons if r.reason == reason) for s in summaries]
        total = sum(f.count for f in figures)
        if total == 0:
            continue
        pnl = sum((f.pnl for f in figures), Decimal(0))
        table.add_row(reason, *(str(f.count) for f in figures), str(total), money(pnl), style=None)
    if table.row_count == 0:
        table.add_row("(no exits)", *([""] * (len(summaries) + 2)))
    return table


def _rejection_table(summaries: Sequence[BotSummary]) -> Table:
    """Build the filter rejection table: reason codes down, bots across."""
    table = Table(title="Filter rejections by reason", title_justify="left")
    table.add_column("Reason", no_wrap=True)
    for s in summaries:
        table.add_column(s.bot, justify="right", overflow="fold")
    table.add_column("Total", justify="right")
    extra = [r for s in summaries for r, _ in s.rejections if r not in FILTER_REASONS]
    for reason in (*FILTER_REASONS, *dict.fromkeys(extra)):
        counts = [dict(s.rejections).get(reason, 0) for s in summaries]
        table.add_row(reason, *(str(c) for c in counts), str(sum(counts)))
    totals = [s.rejections_total for s in summaries]
    table.add_row("all", *(str(c) for c in totals), str(sum(totals)), style="bold")
    return table


def _shadow_table(s: BotSummary) -> Table:
    """Build one bot's shadow-outcomes table (see ``shadow_rows``)."""
    table = Table(title=f"{shadow_rows.TITLE} ({s.bot})", title_justify="left")
    table.caption = shadow_rows.READING
    for i, h in enumerate(shadow_rows.HEADERS):
        table.add_column(h, justify="right" if 0 < i < 5 else "left", no_wrap=i == 0)
    for name, blocked, wins, losses, net, why in shadow_rows.shadow_rows(s):
        table.add_row(name, str(blocked), str(wins), str(losses), money(net), why)
    return table


def _near_miss_table(summaries: Sequence[BotSummary]) -> Table:
    """Build the near-miss table: counts per bot, then the latest near misses."""
    table = Table(title="Near misses", title_justify="left")
    table.add_column("Bot", no_wrap=True)
    table.add_column("One group", justify="right")
    table.add_column("Filter", justify="right")
    for s in summaries:
        table.add_row(s.bot, str(s.near_miss_one_group), str(s.near_miss_filter))
    return table


def _latest_near_misses(summaries: Sequence[BotSummary]) -> Table:
    """Build the table of the latest near misses over all bots, newest first."""
    table = Table(title="Latest near misses", title_justify="left")
    table.add_column("Time (UTC)", no_wrap=True)
    table.add_column("Bot", no_wrap=True)
    table.add_column("Symbol", no_wrap=True)
    table.add_column("Kind")
    table.add_column("Reason")
    table.add_column("Deciding values", overflow="fold")
    misses = sorted(
        ((nm, s.bot) for s in summaries for nm in s.latest_near_misses),
        key=lambda pair: pair[0].ts,
        reverse=True,
    )[:MAX_NEAR_MISS_ROWS]
    for nm, bot in misses:
        keys = DECIDING.get(nm.reason, ("close",))
        values = ", ".join(f"{k}={v:.6g}" for k, v in nm.values if k in keys)
        table.add_row(
            iso_utc(nm.ts)[:19].replace("T", " "), bot, nm.symbol, nm.kind, nm.reason, values
        )
    return table


def _fleet_line(fleet: FleetSummary) -> Text:
    """Build the one-line fleet verdict."""
    tr = fleet.trades
    line = Text.assemble(
        ("Fleet: ", "bold"),
        f"{len(fleet.bots)} bots · {tr.positions_closed} positions · win rate "
        f"{pct(tr.win_rate_pct)} · net PnL {money(tr.net_pnl)} ({PNL_NOTE}) · "
        f"fees {money(tr.total_fees, signed=False)} · {money(fleet.pnl_per_day)}/day vs "
        f"target {target_range(fleet.target)} → ",
        (verdict(fleet.target), f"bold {verdict_style(fleet.target)}"),
    )
    if fleet.target is not None and fleet.bots_with_target < len(fleet.bots):
        line.append(f" (target covers {fleet.bots_with_target} of {len(fleet.bots)} bots)")
    return line


def print_run_report(
    console: Console, summaries: Sequence[BotSummary], fleet: FleetSummary | None
) -> None:
    """Print the backtest report: results, target verdicts, exits, rejections, near misses."""
    rows: list[_Row] = [*summaries, *([fleet] if fleet is not None else [])]
    console.rule("[bold]OptiFlow backtest report")
    if not rows:
        console.print("No bot runs to report.")
        return
    console.print(_results_table(rows))
    console.print(_target_table(rows))
    if summaries:
        console.print(_exit_table(summaries))
        console.print(_rejection_table(summaries))
        for s in summaries:
            if s.shadow_outcomes is not None:
                console.print(_shadow_table(s))
        console.print(_near_miss_table(summaries))
        if any(s.latest_near_misses for s in summaries):
            console.print(_latest_near_misses(summaries))
    if fleet is not None:
        console.print(_fleet_line(fleet))
    for s in summaries:
        for note in s.notes:
            loud = note.startswith(("RUINED", "WARNING"))
            console.print(Text(f"{s.bot}: {note}", style="bold red" if loud else "dim"))
    console.print(
        Text(
            f"All PnL figures are {PNL_NOTE} as modelled by the backtest; "
            "targets are the user's goals, not forecasts.",
            style="dim",
        )
    )
