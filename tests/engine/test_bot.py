"""The engine on hand-made events: 1+1, every filter with its reason code, exits, reactive entry."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.domain.events import (
    CandleClosed,
    Notify,
    OrderFilled,
    PriceTicked,
    RequestScan,
    StopRequested,
    SubmitOrder,
)
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config

MIN = 60_000
T0 = 1_680_000_000_000
SYM = "BTC/USDT"


def feats(ts: int, close: float = 100.0, **over: float) -> Features:
    """Features of a candle on which ema_trend and rsi_band pass and every market filter passes."""
    base: dict[str, Any] = dict(
        ts=ts,
        close=close,
        prev_close=close,
        volume=200.0,
        ema_fast=101.0,
        ema_slow=100.0,
        ema_fast_prev=100.5,
        ema_slow_prev=100.0,
        rsi=60.0,
        macd_hist=0.1,
        macd_hist_prev=0.05,
        atr=1.0,
        atr_median=1.0,
        vol_median=100.0,
        highest_high=99.0,
        vwap=99.0,
        vwap_prev=99.0,
        tradeable=1.0,
    )
    base.update(over)
    return Features(**base)


def make_bot(cfg: BotConfig) -> Bot:
    """A bot with the config's market limits."""
    return Bot(settings_from_config(cfg), {s: market_limits(cfg, s) for s in cfg.pairs})


def candle(bot: Bot, ts: int, sym: str = SYM, spread: float = 0.01, **over: float) -> list[Any]:
    """Close a candle whose open time is ts."""
    return bot.handle(CandleClosed(sym, feats(ts, **over), spread))


def fill(bot: Bot, order: SubmitOrder, price: float, ts: int) -> list[Any]:
    """Fill an order completely at price with a 0.1 % fee."""
    px = Decimal(repr(price))
    return bot.handle(
        OrderFilled(
            order.client_id,
            order.symbol,
            order.side,
            order.qty,
            px,
            order.qty * px * Decimal("0.001"),
            ts,
        )
    )


def orders(cmds: list[Any]) -> list[SubmitOrder]:
    """The SubmitOrder commands among ``cmds``."""
    return [c for c in cmds if isinstance(c, SubmitOrder)]


def open_position(bot: Bot, ts: int, sym: str = SYM, price: float = 100.0) -> SubmitOrder:
    """Enter on a passing candle and fill at price."""
    (order,) = orders(candle(bot, ts, sym, close=price))
    fill(bot, order, price, ts + MIN)
    return order


def stop_out(bot: Bot, ts: int, sym: str = SYM) -> list[Any]:
    """Hit the SL of the open position and fill it."""
    (order,) = orders(bot.handle(PriceTicked(sym, ts, 99.0)))
    assert order.reason == "sl"
    return fill(bot, order, 99.0, ts)


def test_entry_needs_one_primary_and_one_confirming(make_config: Callable[..., BotConfig]) -> None:
    """1+1 passes → a market buy sized to the stake; one group alone → a near miss, no order."""
    bot = make_bot(make_config())
    (order,) = orders(candle(bot, T0))
    assert order.side == "buy" and order.qty == Decimal("1.5") and order.reason == "entry"
    bot2 = make_bot(make_config())
    assert orders(candle(bot2, T0, rsi=80.0)) == []
    assert bot2.counters[SYM].near_miss_one_group == 1
    assert orders(candle(bot2, T0 + MIN, tradeable=0.0)) == []


def test_market_filters_have_reason_codes(make_config: Callable[..., BotConfig]) -> None:
    """spread, volume and atr each block with their code; a single blocker is a near miss."""
    bot = make_bot(make_config())
    assert orders(candle(bot, T0, spread=0.5)) == []
    assert orders(candle(bot, T0, volume=110.0)) == []
    assert orders(candle(bot, T0, atr=0.8)) == []
    assert orders(candle(bot, T0, spread=0.5, atr=0.8)) == []
    c = bot.counters[SYM]
    assert c.rejections == {"spread": 2, "volume": 1, "atr": 2}
    assert c.near_miss_filter == 3
    assert [n.reason for n in bot.near_misses.latest()] == ["spread", "volume", "atr"]


def test_capacity_and_one_position_per_symbol(make_config: Callable[..., BotConfig]) -> None:
    """A second entry on the same symbol, or beyond max_positions, is refused as capacity."""
    cfg = make_config(
        pairs=["BTC/USDT", "ETH/USDT"], max_positions=1, filters={"cooldown": {"enabled": False}}
    )
    bot = make_bot(cfg)
    open_position(bot, T0)
    assert orders(candle(bot, T0 + MIN)) == []
    assert orders(candle(bot, T0 + MIN, "ETH/USDT")) == []
    assert bot.counters[SYM].rejections["capacity"] == 1
    assert bot.counters["ETH/USDT"].rejections["capacity"] == 1


def test_cooldown_after_a_trade(make_config: Callable[..., BotConfig]) -> None:
    """Within 300 s of the last exit the symbol is in cooldown; at 300 s it trades again."""
    bot = make_bot(make_config())
    open_position(bot, T0)
    stop_out(bot, T0 + 10 * MIN)
    exit_ts = T0 + 10 * MIN
    assert orders(candle(bot, exit_ts + 4 * MIN - 2 * MIN)) == []  # closes at exit + 3 min
    assert bot.counters[SYM].rejections == {"cooldown": 1}
    assert len(orders(candle(bot, exit_ts + 4 * MIN))) == 1  # closes at exit + 5 min


def test_trades_per_hour_limit(make_config: Callable[..., BotConfig]) -> None:
    """The 7th entry within a rolling hour is refused as rate; an hour later it is allowed."""
    bot = make_bot(
        make_config(filters={"cooldown": {"enabled": False}, "blacklist": {"enabled": False}})
    )
    for i in range(6):
        open_position(bot, T0 + i * 5 * MIN)
        stop_out(bot, T0 + i * 5 * MIN + 2 * MIN)
    assert orders(candle(bot, T0 + 30 * MIN)) == []
    assert bot.counters[SYM].rejections == {"rate": 1}
    # the first entry was decided at T0 + 1 min (candle close); an hour later it drops out
    assert len(orders(candle(bot, T0 + 60 * MIN))) == 1


def test_blacklist_after_three_stop_losses_lifts_after_120_min(
    make_config: Callable[..., BotConfig],
) -> None:
    """3 SLs within 6 h pause the symbol for 120 min; announced on and off."""
    bot = make_bot(make_config(filters={"cooldown": {"enabled": False}}))
    notes: list[Any] = []
    for i in range(3):
        open_position(bot, T0 + i * 10 * MIN)
        notes += stop_out(bot, T0 + i * 10 * MIN + 5 * MIN)
    third_sl = T0 + 25 * MIN
    assert any(isinstance(n, Notify) and n.kind == "blacklist_on" for n in notes)
    assert orders(candle(bot, third_sl + 119 * MIN - MIN)) == []
    assert bot.counters[SYM].rejections == {"blacklist": 1}
    cmds = candle(bot, third_sl + 120 * MIN - MIN)
    assert len(orders(cmds)) == 1
    assert any(isinstance(n, Notify) and n.kind == "blacklist_off" for n in cmds)


def test_balance_and_notional_filters(make_config: Callable[..., BotConfig]) -> None:
    """A stake under $50 is refused as notional; no free balance is refused as balance."""
    bot = make_bot(make_config(capital={"stake_usdt": 40}))
    assert orders(candle(bot, T0)) == []
    assert bot.counters[SYM].rejections == {"notional": 1}
    bot = make_bot(make_config(capital={"starting_balance_usdt": 30}))
    assert orders(candle(bot, T0)) == []
    assert bot.counters[SYM].rejections == {"balance": 1}


def test_reactive_entry_requests_a_scan_when_a_position_closes(
    make_config: Callable[..., BotConfig],
) -> None:
    """Closing a position asks for an immediate scan; a rescan may enter at once."""
    cfg = make_config(pairs=["BTC/USDT", "ETH/USDT"], max_positions=1)
    bot = make_bot(cfg)
    open_position(bot, T0)
    assert orders(candle(bot, T0 + MIN, "ETH/USDT")) == []  # capacity
    cmds = stop_out(bot, T0 + 3 * MIN)
    assert any(isinstance(c, RequestScan) for c in cmds)
    rescan = bot.handle(CandleClosed("ETH/USDT", feats(T0 + MIN), 0.01, rescan=True))
    assert len(orders(rescan)) == 1
    assert bot.counters["ETH/USDT"].candles == 1  # a rescan is not counted twice
    off = make_bot(make_config(reactive_entry=False))
    open_position(off, T0)
    assert not any(isinstance(c, RequestScan) for c in stop_out(off, T0 + 3 * MIN))


def test_exit_rows_are_net_of_both_fees(make_config: Callable[..., BotConfig]) -> None:
    """Exit pnl = (exit - entry) x qty minus its share of the entry fee and the exit fee."""
    bot = make_bot(make_config())
    open_position(bot, T0)
    (order,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.6)))
    assert order.reason == "tp2"
    fill(bot, order, 100.6, T0 + 2 * MIN)
    (row,) = bot.exits
    assert row.fees == Decimal("0.1500") + Decimal("1.5") * Decimal("100.6") * Decimal("0.001")
    assert row.net_pnl == Decimal("0.6") * Decimal("1.5") - row.fees
    assert bot.cash == Decimal(400) + row.net_pnl


def test_stop_requested_closes_everything(make_config: Callable[..., BotConfig]) -> None:
    """Shutdown closes every open position with its reason and cancels waiting entries."""
    bot = make_bot(make_config(pairs=["BTC/USDT", "ETH/USDT"]))
    open_position(bot, T0)
    candle(bot, T0, "ETH/USDT")
    cmds = bot.handle(StopRequested(T0 + 5 * MIN, "shutdown"))
    assert [o.reason for o in orders(cmds)] == ["shutdown"]
    assert not bot.entry_orders


def test_stop_requested_survives_an_entry_order_already_settled(
    make_config: Callable[..., BotConfig],
) -> None:
    """A waiting entry whose order record is gone is cancelled without a crash."""
    bot = make_bot(make_config(pairs=["BTC/USDT", "ETH/USDT"]))
    open_position(bot, T0)
    bot.entry_orders["ETH/USDT"] = "gone-e"  # its order record was settled elsewhere
    cmds = bot.handle(StopRequested(T0 + 5 * MIN, "shutdown"))
    assert [o.reason for o in orders(cmds)] == ["shutdown"]
    assert not bot.entry_orders and bot.reserved == 0


def test_client_prefixes_differ_for_similar_bot_names() -> None:
    """Bots sharing an account never share a client-id prefix, even with long similar names."""
    from optiflow.engine.settings import client_prefix

    a, b = client_prefix("OptiScalp_Alpha_1"), client_prefix("OptiScalp_Alpha_2")
    assert a != b and a.startswith("ofOptiScalpA") and len(a) <= 16
    assert len(f"{a}-000123-12sl") <= 36  # Binance's limit for client order ids


def test_a_sweep_books_each_level_it_crosses_in_order(
    make_config: Callable[..., BotConfig],
) -> None:
    """Issue 8's example through the engine: 100.0 -> 100.7 in one sweep, qty 1.5, 0.1 % fees."""
    bot = make_bot(make_config())
    open_position(bot, T0)
    s1, s2, s3, _ = bot.positions[SYM].levels.steps
    cmds = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.7, 100.0)))
    got = [(o.reason, o.qty, round(o.ref_price, 3)) for o in cmds]
    assert got == [
        ("step_1", Decimal("0.300"), 100.267),
        ("tp1", Decimal("0.750"), 100.3),
        ("step_2", Decimal("0.300"), 100.334),
        ("step_3", Decimal("0.150"), 100.400),
    ]
    assert [o.ref_price for o in cmds] == [s1, cmds[1].ref_price, s2, s3]
    for o in cmds:
        fill(bot, o, o.ref_price, T0 + 2 * MIN)
    assert SYM not in bot.positions and [e.reason for e in bot.exits][-1] == "step_3"


def test_a_fall_after_tp1_stops_at_break_even_rounded_up_to_the_tick(
    make_config: Callable[..., BotConfig],
) -> None:
    """TP1 moves the stop to 100 x 1.001 / 0.999 = 100.2002 -> 100.21 (tick 0.01); a sweep
    down from 100.32 closes the rest there, a jump below closes at the jump's price."""
    cfg = make_config(exits={"stepwise": {"enabled": False}})
    bot = make_bot(cfg)
    open_position(bot, T0)
    (tp1,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.32, 100.0)))
    fill(bot, tp1, tp1.ref_price, T0 + 2 * MIN)
    assert bot.positions[SYM].stop == 100.21
    (be,) = orders(bot.handle(PriceTicked(SYM, T0 + 3 * MIN, 99.0, 100.32)))
    assert (be.reason, be.qty, be.ref_price) == ("sl_breakeven", Decimal("0.750"), 100.21)
    fresh = make_bot(cfg)
    open_position(fresh, T0)
    (sl,) = orders(fresh.handle(PriceTicked(SYM, T0 + 2 * MIN, 99.0, 100.0)))
    assert (sl.reason, sl.qty) == ("sl", Decimal("1.5")) and round(sl.ref_price, 6) == 99.4
    gap = make_bot(cfg)
    open_position(gap, T0)
    (jump,) = orders(gap.handle(PriceTicked(SYM, T0 + 2 * MIN, 99.0)))
    assert (jump.reason, jump.ref_price) == ("sl", 99.0)


def test_a_rescan_blocked_by_capacity_is_idle(make_config: Callable[..., BotConfig]) -> None:
    """``rescan_idle``: while capacity blocks a symbol its rescan returns nothing and changes
    nothing (what lets a feed skip it); not idle once a slot frees, nor when traced or paused."""
    cfg = make_config(pairs=["BTC/USDT", "ETH/USDT"], max_positions=1)
    bot = make_bot(cfg)
    assert not bot.rescan_idle("ETH/USDT")
    open_position(bot, T0)
    assert bot.rescan_idle(SYM) and bot.rescan_idle("ETH/USDT")
    before = (repr(bot.counters), bot.near_misses.latest(), dict(bot.orders))
    for sym in (SYM, "ETH/USDT"):
        assert bot.handle(CandleClosed(sym, feats(T0 + MIN), 0.01, rescan=True)) == []
    assert (repr(bot.counters), bot.near_misses.latest(), dict(bot.orders)) == before
    bot.trace = []
    assert not bot.rescan_idle("ETH/USDT")
    bot.trace = None
    bot.blacklist.paused_until["ETH/USDT"] = T0  # a pause that may lift: announced
    assert not bot.rescan_idle("ETH/USDT")
    del bot.blacklist.paused_until["ETH/USDT"]
    stop_out(bot, T0 + 3 * MIN)
    assert not bot.rescan_idle("ETH/USDT")
