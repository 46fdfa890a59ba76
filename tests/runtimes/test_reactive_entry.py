"""A reactive entry fills where the exit happened, not at the candle's close (issue 8)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config
from optiflow.marketdata.ticks import BookTickerArrays, TickData, TradeArrays
from optiflow.runtimes.bar_loop import BarLoop, align

MIN = 60_000
T0 = 1_680_000_000_000
SLIP = Decimal("0.0002")  # the default slippage_pct 0.02


def passing(ts: int, close: float) -> Features:
    """Features on which ema_trend and rsi_band pass and every market filter passes."""
    v: dict[str, Any] = dict(
        ts=ts, close=close, prev_close=close, volume=200.0, ema_fast=close * 1.01,
        ema_slow=close, ema_fast_prev=close * 1.005, ema_slow_prev=close, rsi=60.0,
        macd_hist=0.1, macd_hist_prev=0.05, atr=1.0, atr_median=1.0, vol_median=100.0,
        highest_high=close * 0.99, vwap=close * 0.99, vwap_prev=close * 0.99, tradeable=1.0,
    )  # fmt: skip
    return Features(**v)


def loop_for(
    cfg: BotConfig, candles: dict[str, list[tuple[float, float, float, float]]]
) -> BarLoop:
    """A bar loop over hand-made 1m candles (open, high, low, close), every one passing 1+1."""
    s = settings_from_config(cfg)
    limits = {sym: market_limits(cfg, sym) for sym in s.symbols}
    bot = Bot(s, limits)
    sim = SimExchange(s.fee_rate, s.slippage_rate, limits, {"USDT": s.starting_balance})
    cols = []
    for sym in s.symbols:
        rows = np.array(candles[sym], dtype=np.float64)
        ts = T0 + MIN * np.arange(len(rows), dtype=np.int64)
        cols.append((ts, rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], np.full(len(rows), 200.0)))
    data = align(s.symbols, cols, MIN)

    def features(i: int, row: int) -> Features:
        return passing(int(cols[i][0][row]), float(cols[i][4][row]))

    return BarLoop(bot, sim, data, features, 0.01)


def bought(level: float, tick: Decimal) -> Decimal:
    """A market buy's fill at ``level``: plus slippage, rounded up to the price tick."""
    px = Decimal(repr(level)) * (1 + SLIP)
    return (px / tick).to_integral_value(rounding=ROUND_CEILING) * tick


def test_same_symbol_reentry_fills_at_the_stop_and_sees_the_rest_of_the_sweep(
    make_config: Callable[..., BotConfig],
) -> None:
    """SL hit on the way to the low: the re-entry fills at the SL level (+ slippage) at that
    moment, and the rest of the sweep (down to the low) stops the new position too."""
    cfg = make_config(max_positions=1, filters={"cooldown": {"enabled": False}})
    loop = loop_for(cfg, {"BTC/USDT": [(100, 100, 100, 100), (100, 100.2, 98.5, 100.1)]})
    loop.process_bar(0, [0])  # candle 0 closes: entry, filled at candle 1's open
    loop.process_bar(1, [])  # open 100 -> low 98.5 -> high 100.2 -> close 100.1
    loop.finish("end_of_data")
    bot, tick = loop.bot, Decimal("0.01")
    first, second, *_ = bot.exits
    low_time = T0 + MIN + MIN // 4
    assert first.entry_price == bought(100.0, tick) and first.reason == "sl"
    sl1 = float(first.entry_price) * (1 - 0.006)
    assert second.ts_entry == low_time and second.entry_price == bought(sl1, tick)
    assert second.reason == "sl" and second.ts_exit == low_time  # 98.5 < its SL (98.84)
    assert bot.positions_opened >= 3  # the third one then rides the high (its steps fire)
    third = [e for e in bot.exits if e.position_id not in (first.position_id, second.position_id)]
    sl2 = float(second.entry_price) * (1 - 0.006)
    assert third[0].ts_entry == low_time and third[0].entry_price == bought(sl2, tick)


def test_reentry_on_another_symbol_fills_at_its_price_at_the_same_moment(
    make_config: Callable[..., BotConfig],
) -> None:
    """BTC stops out on the way to its low; ETH enters at its own low (the same point of the
    candle path, + slippage), not at the candle's close."""
    cfg = make_config(pairs=["BTC/USDT", "ETH/USDT"], max_positions=1)
    loop = loop_for(
        cfg,
        {
            "BTC/USDT": [(100, 100, 100, 100), (100, 100.2, 98.5, 100.1)],
            "ETH/USDT": [(2000, 2000, 2000, 2000), (2000, 2010, 1990, 2005)],
        },
    )
    loop.process_bar(0, [0])  # only BTC's candle is judged: BTC enters
    loop.process_bar(1, [])
    loop.finish("end_of_data")
    btc = [e for e in loop.bot.exits if e.symbol == "BTC/USDT"]
    eth = [e for e in loop.bot.exits if e.symbol == "ETH/USDT"]
    assert btc[0].reason == "sl" and len({e.position_id for e in eth}) == 1
    tick = loop.bot.limits["ETH/USDT"].price_tick
    assert eth[0].ts_entry == btc[0].ts_exit == T0 + MIN + MIN // 4
    assert eth[0].entry_price == bought(1990.0, tick)


def test_with_tick_data_the_reentry_fills_at_the_ask_of_the_exit_moment(
    make_config: Callable[..., BotConfig],
) -> None:
    """A trade through the SL: the exit fills at the SL level, the re-entry at that trade's
    ask (+ slippage) and time, not at a later trade or the candle's close."""
    cfg = make_config(max_positions=1, filters={"cooldown": {"enabled": False}})
    loop = loop_for(cfg, {"BTC/USDT": [(100, 100, 100, 100), (100, 100.5, 99.0, 100.5)]})
    t1 = T0 + MIN
    trades = TradeArrays(
        np.array([T0 + 1_000, t1 + 1_000, t1 + 20_000, t1 + 40_000], np.int64),
        np.array([100.0, 100.0, 99.0, 100.5]),
        np.ones(4),
    )
    book = BookTickerArrays(
        np.array([T0, t1 + 1_000, t1 + 20_000, t1 + 40_000], np.int64),
        np.array([99.99, 99.99, 98.99, 100.49]),
        np.array([100.01, 100.01, 99.01, 100.51]),
    )
    loop.ticks = [TickData("BTC/USDT", trades, book, ((T0, T0 + 2 * MIN - 1),))]
    loop.close_spread = [0.01]
    loop.process_bar(0, [0])
    loop.process_bar(1, [])
    loop.finish("end_of_data")
    first, second = loop.bot.exits[0], loop.bot.exits[1]
    tick = Decimal("0.01")
    assert first.entry_price == bought(100.01, tick) and first.reason == "sl"
    assert first.ts_exit == second.ts_entry == t1 + 20_000
    assert second.entry_price == bought(99.01, tick)  # the ask when 99.0 traded
