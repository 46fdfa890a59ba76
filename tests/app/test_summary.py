"""Hand-computed checks of the backtest summaries (per bot and fleet)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D

from optiflow.app.summary import (
    fleet_equity_curve,
    iso_utc,
    summarize,
    summarize_fleet,
)
from optiflow.domain.results import (
    EXIT_REASONS,
    FILTER_REASONS,
    BotRun,
    DailyTarget,
    ExitRow,
    NearMiss,
    SymbolStats,
)

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 86_400_000


def _row(
    pid: str,
    sym: str,
    entry: str,
    exit_: str,
    qty: str,
    fees: str,
    reason: str,
    ts_exit: int,
    bot: str = "A",
) -> ExitRow:
    """Build an exit row whose net PnL is (exit - entry) * qty - fees."""
    net = (D(exit_) - D(entry)) * D(qty) - D(fees)
    return ExitRow(bot, sym, pid, T0, ts_exit, D(entry), D(exit_), D(qty), D(fees), net, reason)


def run_a() -> BotRun:
    """Two positions: p1 closes tp1 (+0.8) then tp2 (+1.8); p2 hits its stop (-3.4)."""
    exits = (
        _row("p1", "BTC/USDT", "100", "101", "1", "0.2", "tp1", T0 + HOUR),
        _row("p1", "BTC/USDT", "100", "102", "1", "0.2", "tp2", T0 + 2 * HOUR),
        _row("p2", "ETH/USDT", "200", "197", "1", "0.4", "sl", T0 + DAY + 3 * HOUR),
    )
    curve = (
        (T0 + HOUR, D("500.8")),
        (T0 + 2 * HOUR, D("502.6")),
        (T0 + DAY + 3 * HOUR, D("499.2")),
    )
    stats = (
        (
            "BTC/USDT",
            SymbolStats(
                candles=2880,
                entries=1,
                near_miss_filter=2,
                rejections=(("spread", 3), ("volume", 2)),
            ),
        ),
        (
            "ETH/USDT",
            SymbolStats(
                candles=2880,
                entries=1,
                near_miss_one_group=5,
                rejections=(("spread", 1), ("cooldown", 4)),
            ),
        ),
    )
    misses = tuple(
        NearMiss(T0 + i * HOUR, "BTC/USDT", "filter", "spread", (("spread_pct", 0.5),))
        for i in range(15)
    )
    return BotRun(
        "A",
        ("BTC/USDT", "ETH/USDT"),
        T0,
        T0 + 2 * DAY,
        D("500"),
        D("499.2"),
        exits,
        2,
        curve,
        stats,
        misses,
        DailyTarget(D("15"), D("25")),
        5760,
    )


def run_empty(bot: str = "B") -> BotRun:
    """A bot that never traded, with no target and a zero-length range."""
    return BotRun(bot, ("SOL/USDT",), T0, T0, D("300"), D("300"), (), 0, (), (), (), None)


def run_c() -> BotRun:
    """One winning position (+4.9) on day 2, target 20-30 $/day."""
    exits = (_row("c1", "XRP/USDT", "1", "1.1", "50", "0.1", "tp2", T0 + DAY + HOUR, bot="C"),)
    return BotRun(
        "C",
        ("XRP/USDT",),
        T0,
        T0 + 2 * DAY,
        D("400"),
        D("404.9"),
        exits,
        1,
        ((T0 + DAY + HOUR, D("404.9")),),
        (),
        (),
        DailyTarget(D("20"), D("30")),
    )


def test_positions_win_rate_and_money() -> None:
    """Wins are per position; net, fees, gross, PF and averages match hand arithmetic."""
    s = summarize(run_a())
    t = s.trades
    assert (s.positions_opened, t.positions_closed, t.exit_fills) == (2, 2, 3)
    assert (t.wins, t.losses, t.win_rate_pct) == (1, 1, D(50))
    assert t.net_pnl == D("-0.8") and t.total_fees == D("0.8") and t.gross_pnl == D("0.0")
    assert t.profit_factor == D("2.6") / D("3.4")
    assert (t.avg_win, t.avg_loss) == (D("2.6"), D("-3.4"))
    assert s.return_pct == D("-0.16")


def test_drawdown_and_hit_rates() -> None:
    """Drawdown runs from the 502.6 peak to 499.2; TP1 and TP2 each hit by 1 of 2 positions."""
    s = summarize(run_a())
    assert s.max_drawdown_usd == D("3.4")
    assert s.max_drawdown_pct == D("3.4") * 100 / D("502.6")
    assert (s.trades.tp1_hit_rate_pct, s.trades.tp2_hit_rate_pct) == (D(50), D(50))


def test_exit_reasons_cover_every_code() -> None:
    """Every exit reason code is listed, with counts and PnL (0 when absent)."""
    reasons = {r.reason: (r.count, r.pnl) for r in summarize(run_a()).trades.exit_reasons}
    assert set(reasons) == set(EXIT_REASONS)
    assert reasons["tp1"] == (1, D("0.8")) and reasons["tp2"] == (1, D("1.8"))
    assert reasons["sl"] == (1, D("-3.4")) and reasons["timeout"] == (0, D(0))


def test_days_daily_series_and_target() -> None:
    """Two days: +2.6 then -3.4; -0.4 $/day is below the 15-25 target on both days."""
    s = summarize(run_a())
    assert s.days == D(2) and s.pnl_per_day == D("-0.4")
    assert s.daily_pnl == ((date(2024, 1, 1), D("2.6")), (date(2024, 1, 2), D("-3.4")))
    assert s.target is not None
    assert (s.target.status, s.target.days_at_or_above_min, s.target.days_total) == ("below", 0, 2)


def test_daily_series_fills_gaps_with_zero() -> None:
    """A day without exits inside the range appears with 0."""
    base = run_a()
    run = BotRun(
        "A",
        base.symbols,
        T0,
        T0 + 3 * DAY,
        D("500"),
        D("500"),
        (base.exits[0], _row("p3", "BTC/USDT", "100", "160", "1", "0", "tp2", T0 + 2 * DAY + HOUR)),
        2,
        (),
        (),
        (),
        DailyTarget(D("15"), D("25")),
    )
    s = summarize(run)
    assert [v for _, v in s.daily_pnl] == [D("0.8"), D(0), D(60)]
    assert s.target is not None and s.target.days_at_or_above_min == 1
    assert s.pnl_per_day == D("60.8") / 3  # 20.27 $/day, inside 15-25
    assert s.target.status == "within"


def test_rejections_and_near_misses() -> None:
    """Rejections are summed over symbols for every code; near misses counted and bounded."""
    s = summarize(run_a())
    rej = dict(s.rejections)
    assert set(rej) == set(FILTER_REASONS)
    assert (rej["spread"], rej["volume"], rej["cooldown"], rej["atr"]) == (4, 2, 4, 0)
    assert s.rejections_total == 10
    assert (s.near_miss_one_group, s.near_miss_filter) == (5, 2)
    assert len(s.latest_near_misses) == 10
    assert s.latest_near_misses[0].ts == T0 + 14 * HOUR
    btc = s.symbol_stats[0]
    assert btc.symbol == "BTC/USDT" and btc.exit_fills == 2 and btc.net_pnl == D("2.6")
    assert dict(btc.stats.rejections)["balance"] == 0


def test_zero_trades() -> None:
    """A bot with no exits gives None rates, zeros, and a minimal one-minute day count."""
    s = summarize(run_empty())
    t = s.trades
    assert t.positions_closed == 0 and t.exit_fills == 0 and t.net_pnl == 0
    assert t.win_rate_pct is None and t.profit_factor is None and t.tp1_hit_rate_pct is None
    assert t.avg_win is None and t.avg_loss is None
    assert s.days == D(1) / D(1440) and s.pnl_per_day == 0
    assert s.max_drawdown_usd == 0 and s.target is None
    assert s.daily_pnl == ((date(2024, 1, 1), D(0)),)
    d = s.to_dict()
    assert json.loads(json.dumps(d))["trades"]["win_rate_pct"] is None


def test_to_dict_rounding_and_times() -> None:
    """to_dict gives money to 4 decimals, percents to 2, ISO UTC times, JSON-ready types."""
    d = summarize(run_a()).to_dict()
    json.dumps(d)
    trades = d["trades"]
    assert isinstance(trades, dict)
    assert trades["net_pnl"] == "-0.8000" and trades["profit_factor"] == "0.7647"
    assert trades["win_rate_pct"] == "50.00"
    assert d["max_drawdown_pct"] == "0.68" and d["max_drawdown_usd"] == "3.4000"
    assert d["ts_start"] == "2024-01-01T00:00:00.000Z"
    assert d["daily_pnl"] == {"2024-01-01": "2.6000", "2024-01-02": "-3.4000"}
    assert d["target"] == {
        "daily_usd_min": "15.0000",
        "daily_usd_max": "25.0000",
        "measured_per_day": "-0.4000",
        "status": "below",
        "days_at_or_above_min": 0,
        "days_total": 2,
    }
    assert iso_utc(T0 + 1) == "2024-01-01T00:00:00.001Z"


def test_fleet_sums() -> None:
    """Fleet figures are sums over bots; the target is the sum of present targets."""
    f = summarize_fleet([run_a(), run_empty(), run_c()])
    assert f.bots == ("A", "B", "C")
    assert f.trades.positions_closed == 3 and f.trades.wins == 2
    assert f.trades.net_pnl == D("4.1") and f.trades.total_fees == D("0.9")
    assert f.positions_opened == 3 and f.starting_balance == D(1200)
    assert f.pnl_per_day == D("-0.4") + D(0) + D("2.45")
    assert f.target is not None and f.bots_with_target == 2
    assert (f.target.daily_usd_min, f.target.daily_usd_max) == (D(35), D(55))
    assert f.target.status == "below"
    assert f.daily_pnl == ((date(2024, 1, 1), D("2.6")), (date(2024, 1, 2), D("1.5")))
    assert dict(f.rejections)["spread"] == 4 and f.rejections_total == 10
    json.dumps(f.to_dict())


def test_fleet_equity_curve_and_drawdown() -> None:
    """The fleet curve sums each bot's latest equity; its drawdown uses that curve."""
    curve = fleet_equity_curve([run_a(), run_c()])
    assert curve[0] == (T0, D(900))
    assert curve[-1] == (T0 + DAY + 3 * HOUR, D("499.2") + D("404.9"))
    f = summarize_fleet([run_a(), run_c()])
    assert f.max_drawdown_usd == D("3.4")


def test_empty_fleet() -> None:
    """A fleet of no bots is all zeros and Nones, never a division error."""
    f = summarize_fleet([])
    assert f.trades.win_rate_pct is None and f.return_pct is None and f.target is None
    assert f.daily_pnl == () and f.pnl_per_day == 0
    json.dumps(f.to_dict())
