"""Pure summaries of backtest runs: per-bot and fleet figures, ready for reports and JSON."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from optiflow.app.run_notes import latest_per_kind, run_notes
from optiflow.domain.results import (
    EXIT_REASONS,
    FILTER_REASONS,
    BotRun,
    DailyTarget,
    ExitRow,
    NearMiss,
    SymbolStats,
)
from optiflow.domain.timefmt import iso_utc, utc_day

MS_PER_DAY = 86_400_000
MIN_DAYS = Decimal(1) / Decimal(1440)
LATEST_NEAR_MISSES = 10
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
JsonDict = dict[str, JsonValue]


def dec_str(value: Decimal | None, places: int = 4) -> str | None:
    """Round a Decimal half-even to `places` decimals as a plain string (None stays None)."""
    if value is None:
        return None
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    rounded = rounded.copy_abs() if rounded.is_zero() else rounded
    return format(rounded, "f")


def _pct(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """Return part / whole in percent, or None when whole is zero."""
    return None if whole == 0 else Decimal(part) * _HUNDRED / Decimal(whole)


_PAIR_MAPS = frozenset({"rejections", "daily_pnl", "values"})
_TIMESTAMPS = frozenset({"ts", "ts_start", "ts_end"})


def _json(value: object, name: str = "") -> JsonValue:
    """Convert a summary value to JSON-ready plain types; `name` is its field name."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return iso_utc(value) if name in _TIMESTAMPS else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return dec_str(value, 2 if name.endswith("_pct") else 4)
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return _json_dict(value)
    if isinstance(value, dict):
        return {str(k): _json(v, str(k)) for k, v in value.items()}
    if isinstance(value, tuple):
        if name in _PAIR_MAPS:
            return {str(_json(k)): _json(v, name) for k, v in value}
        return [_json(v, name) for v in value]
    raise TypeError(f"cannot serialise {type(value).__name__} in field {name!r}")


def _json_dict(obj: object) -> JsonDict:
    """Convert a dataclass instance field by field with `_json`."""
    return {f.name: _json(getattr(obj, f.name), f.name) for f in fields(obj)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ReasonFigure:
    """Exit fills and net PnL attributed to one exit reason code."""

    reason: str
    count: int
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class TradeFigures:
    """Position and fill figures over a set of exit rows (net of fees and slippage)."""

    positions_closed: int  # positions with at least one exit fill
    exit_fills: int
    wins: int
    losses: int  # positions whose net PnL is <= 0
    win_rate_pct: Decimal | None
    net_pnl: Decimal
    total_fees: Decimal
    gross_pnl: Decimal
    profit_factor: Decimal | None  # None when there is no losing position
    avg_win: Decimal | None
    avg_loss: Decimal | None
    tp1_hit_rate_pct: Decimal | None
    tp2_hit_rate_pct: Decimal | None
    exit_reasons: tuple[ReasonFigure, ...]


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """A $/day target range against the measured PnL per day."""

    daily_usd_min: Decimal
    daily_usd_max: Decimal
    measured_per_day: Decimal
    status: str  # "below" | "within" | "above"
    days_at_or_above_min: int
    days_total: int


@dataclass(frozen=True, slots=True)
class SymbolFigures:
    """One symbol's signal/filter counters plus its exit fills and net PnL."""

    symbol: str
    stats: SymbolStats  # rejections list every FILTER_REASONS code
    exit_fills: int
    net_pnl: Decimal


@dataclass(frozen=True, slots=True)
class BotSummary:
    """Every figure reported for one bot's run."""

    bot: str
    symbols: tuple[str, ...]
    ts_start: int
    ts_end: int
    starting_balance: Decimal
    final_balance: Decimal
    return_pct: Decimal | None
    positions_opened: int
    trades: TradeFigures
    max_drawdown_usd: Decimal
    max_drawdown_pct: Decimal
    days: Decimal
    pnl_per_day: Decimal
    daily_pnl: tuple[tuple[date, Decimal], ...]
    target: TargetCheck | None
    rejections: tuple[tuple[str, int], ...]
    rejections_total: int
    symbol_stats: tuple[SymbolFigures, ...]
    near_miss_one_group: int
    near_miss_filter: int
    latest_near_misses: tuple[NearMiss, ...]
    candles_processed: int
    notes: tuple[str, ...] = ()  # ruin, what PnL/day averages over, config warnings
    # per filter: blocked, shadow_wins, shadow_losses, shadow_net_pnl (None: shadows off)
    shadow_outcomes: dict[str, Any] | None = None
    shadow_top_missed: tuple[dict[str, Any], ...] = ()  # the biggest missed winners

    def to_dict(self) -> JsonDict:
        """Return every figure as JSON-ready plain types (money to 4 decimals, % to 2)."""
        return _json_dict(self)


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """Figures summed over every bot of a fleet."""

    bots: tuple[str, ...]
    ts_start: int
    ts_end: int
    starting_balance: Decimal
    final_balance: Decimal
    return_pct: Decimal | None
    positions_opened: int
    trades: TradeFigures
    max_drawdown_usd: Decimal
    max_drawdown_pct: Decimal
    pnl_per_day: Decimal  # sum of the bots' PnL per day
    daily_pnl: tuple[tuple[date, Decimal], ...]
    target: TargetCheck | None  # sum of the targets of the bots that have one
    bots_with_target: int
    rejections: tuple[tuple[str, int], ...]
    rejections_total: int
    near_miss_one_group: int
    near_miss_filter: int

    def to_dict(self) -> JsonDict:
        """Return every fleet figure as JSON-ready plain types."""
        return _json_dict(self)


def trade_figures(exits: Iterable[ExitRow]) -> TradeFigures:
    """Compute position/fill figures; a position is keyed by (bot, position_id)."""
    rows = list(exits)
    pos_pnl: dict[tuple[str, str], Decimal] = defaultdict(lambda: _ZERO)
    pos_reasons: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_reason: dict[str, list[Decimal]] = {r: [] for r in EXIT_REASONS}
    for row in rows:
        key = (row.bot, row.position_id)
        pos_pnl[key] += row.net_pnl
        pos_reasons[key].add(row.reason)
        by_reason.setdefault(row.reason, []).append(row.net_pnl)
    win_pnls = [p for p in pos_pnl.values() if p > 0]
    loss_pnls = [p for p in pos_pnl.values() if p <= 0]
    n_pos = len(pos_pnl)
    net = sum((r.net_pnl for r in rows), _ZERO)
    fees = sum((r.fees for r in rows), _ZERO)
    gross_win = sum(win_pnls, _ZERO)
    gross_loss = -sum(loss_pnls, _ZERO)
    return TradeFigures(
        positions_closed=n_pos,
        exit_fills=len(rows),
        wins=len(win_pnls),
        losses=len(loss_pnls),
        win_rate_pct=_pct(len(win_pnls), n_pos),
        net_pnl=net,
        total_fees=fees,
        gross_pnl=net + fees,
        profit_factor=gross_win / gross_loss if gross_loss > 0 else None,
        avg_win=gross_win / len(win_pnls) if win_pnls else None,
        avg_loss=-gross_loss / len(loss_pnls) if loss_pnls else None,
        tp1_hit_rate_pct=_pct(sum(1 for s in pos_reasons.values() if "tp1" in s), n_pos),
        tp2_hit_rate_pct=_pct(sum(1 for s in pos_reasons.values() if "tp2" in s), n_pos),
        exit_reasons=tuple(
            ReasonFigure(reason, len(pnls), sum(pnls, _ZERO)) for reason, pnls in by_reason.items()
        ),
    )


def max_drawdown(start: Decimal, curve: Iterable[tuple[int, Decimal]]) -> tuple[Decimal, Decimal]:
    """Return (max drawdown in $, max drawdown in % of the running peak) from `start` on."""
    peak = start
    worst_usd = worst_pct = _ZERO
    for _, equity in curve:
        peak = max(peak, equity)
        drop = peak - equity
        worst_usd = max(worst_usd, drop)
        if peak > 0:
            worst_pct = max(worst_pct, drop * _HUNDRED / peak)
    return worst_usd, worst_pct


def daily_series(
    exits: Iterable[ExitRow], ts_start: int, ts_end: int
) -> tuple[tuple[date, Decimal], ...]:
    """Sum net PnL per UTC day; every day from start to end (exclusive end) is present."""
    totals: dict[date, Decimal] = defaultdict(lambda: _ZERO)
    for row in exits:
        totals[utc_day(row.ts_exit)] += row.net_pnl
    first = utc_day(ts_start)
    last = utc_day(max(ts_start, ts_end - 1))
    if totals:
        first = min(first, min(totals))
        last = max(last, max(totals))
    span = (last - first).days + 1
    days = [first + timedelta(days=i) for i in range(span)]
    return tuple((d, totals.get(d, _ZERO)) for d in days)


def _target_check(
    target: DailyTarget | None, per_day: Decimal, daily: Sequence[tuple[date, Decimal]]
) -> TargetCheck | None:
    """Compare a measured $/day and daily series with a target range."""
    if target is None:
        return None
    low, high = target.daily_usd_min, target.daily_usd_max
    status = "below" if per_day < low else ("above" if per_day > high else "within")
    return TargetCheck(
        daily_usd_min=target.daily_usd_min,
        daily_usd_max=target.daily_usd_max,
        measured_per_day=per_day,
        status=status,
        days_at_or_above_min=sum(1 for _, v in daily if v >= target.daily_usd_min),
        days_total=len(daily),
    )


def _sum_counts(parts: Iterable[Iterable[tuple[str, int]]], base: Sequence[str]) -> dict[str, int]:
    """Sum (reason, count) pairs, every code of `base` present (0 when absent)."""
    out = dict.fromkeys(base, 0)
    for part in parts:
        for reason, count in part:
            out[reason] = out.get(reason, 0) + count
    return out


def _with_all_reasons(stats: SymbolStats) -> SymbolStats:
    """Return the stats with every FILTER_REASONS code in its rejections."""
    return replace(stats, rejections=tuple(_sum_counts([stats.rejections], FILTER_REASONS).items()))


def summarize(run: BotRun) -> BotSummary:
    """Compute every reported figure for one bot's run."""
    trades = trade_figures(run.exits)
    dd_usd, dd_pct = max_drawdown(run.starting_balance, run.equity_curve)
    days = max(Decimal(run.ts_end - run.ts_start) / Decimal(MS_PER_DAY), MIN_DAYS)
    per_day = trades.net_pnl / days
    daily = daily_series(run.exits, run.ts_start, run.ts_end)
    rejections = _sum_counts((s.rejections for _, s in run.stats), FILTER_REASONS)
    sym_fills: dict[str, int] = defaultdict(int)
    sym_pnl: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    for row in run.exits:
        sym_fills[row.symbol] += 1
        sym_pnl[row.symbol] += row.net_pnl
    stats = dict(run.stats)
    names = list(dict.fromkeys([*run.symbols, *stats, *sym_fills]))
    rows = [
        SymbolFigures(n, _with_all_reasons(stats.get(n, SymbolStats())), sym_fills[n], sym_pnl[n])
        for n in names
    ]
    latest = latest_per_kind(run.near_misses, LATEST_NEAR_MISSES)
    return BotSummary(
        bot=run.bot,
        symbols=run.symbols,
        ts_start=run.ts_start,
        ts_end=run.ts_end,
        starting_balance=run.starting_balance,
        final_balance=run.final_balance,
        return_pct=_pct(trades.net_pnl, run.starting_balance),
        positions_opened=run.positions_opened,
        trades=trades,
        max_drawdown_usd=dd_usd,
        max_drawdown_pct=dd_pct,
        days=days,
        pnl_per_day=per_day,
        daily_pnl=daily,
        target=_target_check(run.target, per_day, daily),
        rejections=tuple(rejections.items()),
        rejections_total=sum(rejections.values()),
        symbol_stats=tuple(rows),
        near_miss_one_group=sum(s.near_miss_one_group for _, s in run.stats),
        near_miss_filter=sum(s.near_miss_filter for _, s in run.stats),
        latest_near_misses=tuple(latest),
        candles_processed=run.candles_processed,
        notes=run_notes(run, days),
        shadow_outcomes=run.extra.get("shadow_outcomes"),  # type: ignore[arg-type]
        shadow_top_missed=tuple(run.extra.get("shadow_top_missed", ())),  # type: ignore[arg-type]
    )


def fleet_equity_curve(runs: Sequence[BotRun]) -> tuple[tuple[int, Decimal], ...]:
    """Merge bot equity curves: at each point, the sum of every bot's latest equity."""
    if not runs:
        return ()
    latest = [r.starting_balance for r in runs]
    events = sorted((ts, i, eq) for i, r in enumerate(runs) for ts, eq in r.equity_curve)
    out: list[tuple[int, Decimal]] = [(min(r.ts_start for r in runs), sum(latest, _ZERO))]
    for ts, i, eq in events:
        latest[i] = eq
        total = sum(latest, _ZERO)
        if len(out) > 1 and out[-1][0] == ts:
            out[-1] = (ts, total)
        else:
            out.append((ts, total))
    return tuple(out)


def summarize_fleet(runs: Sequence[BotRun]) -> FleetSummary:
    """Sum every bot's figures into fleet figures (targets summed where present)."""
    bots = [summarize(r) for r in runs]
    start = min((r.ts_start for r in runs), default=0)
    end = max((r.ts_end for r in runs), default=0)
    all_exits = [row for r in runs for row in r.exits]
    trades = trade_figures(all_exits)
    starting = sum((r.starting_balance for r in runs), _ZERO)
    curve = fleet_equity_curve(runs)
    dd_usd, dd_pct = max_drawdown(starting, curve)
    per_day = sum((b.pnl_per_day for b in bots), _ZERO)
    daily = daily_series(all_exits, start, end) if runs else ()
    targets = [r.target for r in runs if r.target is not None]
    low = sum((t.daily_usd_min for t in targets), _ZERO)
    fleet_target = DailyTarget(low, sum((t.daily_usd_max for t in targets), _ZERO))
    rejections = _sum_counts((b.rejections for b in bots), FILTER_REASONS)
    return FleetSummary(
        bots=tuple(r.bot for r in runs),
        ts_start=start,
        ts_end=end,
        starting_balance=starting,
        final_balance=sum((r.final_balance for r in runs), _ZERO),
        return_pct=_pct(trades.net_pnl, starting),
        positions_opened=sum(r.positions_opened for r in runs),
        trades=trades,
        max_drawdown_usd=dd_usd,
        max_drawdown_pct=dd_pct,
        pnl_per_day=per_day,
        daily_pnl=daily,
        target=_target_check(fleet_target if targets else None, per_day, daily),
        bots_with_target=len(targets),
        rejections=tuple(rejections.items()),
        rejections_total=sum(rejections.values()),
        near_miss_one_group=sum(b.near_miss_one_group for b in bots),
        near_miss_filter=sum(b.near_miss_filter for b in bots),
    )
