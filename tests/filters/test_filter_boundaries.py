"""Boundaries of the safety filters (SPEC §5): blacklist window and restart, spread at the limit."""

from __future__ import annotations

from collections.abc import Callable

from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.domain.events import CandleClosed, SubmitOrder
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config
from optiflow.filters.market import MarketFilterParams, spread_blocks
from optiflow.filters.timing import Blacklist

MIN = 60_000
T0 = 1_680_000_000_000


def blacklist() -> Blacklist:
    """The SPEC default: 3 stop-losses within 360 min pause the symbol for 120 min."""
    return Blacklist(stop_losses=3, window_min=360, pause_min=120)


def test_blacklist_window_edge() -> None:
    """An SL exactly 360 min before the third no longer counts; 1 ms later it still does."""
    out = blacklist()
    out.record_stop_loss("X", T0)
    out.record_stop_loss("X", T0 + 60 * MIN)
    assert out.record_stop_loss("X", T0 + 360 * MIN) is False  # the first fell out
    assert not out.blocks("X", T0 + 360 * MIN)
    inside = blacklist()
    inside.record_stop_loss("X", T0)
    inside.record_stop_loss("X", T0 + 60 * MIN)
    assert inside.record_stop_loss("X", T0 + 360 * MIN - 1) is True
    assert inside.blocks("X", T0 + 360 * MIN - 1)


def test_blacklist_pause_ends_exactly_after_pause_min() -> None:
    """The pause blocks until 120 min after the third SL, and not a millisecond longer."""
    bl = blacklist()
    for k in range(3):
        bl.record_stop_loss("X", T0 + k * MIN)
    end = T0 + 2 * MIN + 120 * MIN
    assert bl.blocks("X", end - 1) and not bl.blocks("X", end)
    assert not bl.blocks("Y", T0 + 3 * MIN)  # per symbol


def test_blacklist_count_restarts_after_a_pause() -> None:
    """After a pause the SLs before it no longer count: it takes 3 new ones to pause again."""
    bl = blacklist()
    for k in range(3):
        bl.record_stop_loss("X", T0 + k * MIN)
    after = T0 + 130 * MIN  # pause over, still inside the 360-min window of the first three
    assert not bl.blocks("X", after)
    assert bl.record_stop_loss("X", after) is False
    assert bl.record_stop_loss("X", after + MIN) is False
    assert not bl.blocks("X", after + MIN)
    assert bl.record_stop_loss("X", after + 2 * MIN) is True


def test_spread_of_exactly_the_maximum_is_allowed() -> None:
    """(ask − bid)/mid = 0.4 % passes; anything wider is blocked."""
    p = MarketFilterParams(spread_max_pct=0.4)
    assert not spread_blocks(0.4, p)
    assert spread_blocks(0.4000001, p)


def _feats(ts: int, rsi: float = 60.0) -> Features:
    """A candle on which ema_trend and rsi_band (at the default rsi) and volume/atr pass."""
    return Features(
        ts=ts, close=100.0, prev_close=100.0, volume=200.0, ema_fast=101.0, ema_slow=100.0,
        ema_fast_prev=100.5, ema_slow_prev=100.0, rsi=rsi, macd_hist=0.1, macd_hist_prev=0.05,
        atr=1.0, atr_median=1.0, vol_median=100.0, highest_high=99.0, vwap=99.0, vwap_prev=99.0,
        tradeable=1.0,
    )  # fmt: skip


def test_engine_enters_at_a_spread_of_exactly_0_4_pct(
    make_config: Callable[..., BotConfig],
) -> None:
    """Through the engine: spread 0.4 % enters, 0.41 % is rejected with reason spread."""
    cfg = make_config()
    limits = {s: market_limits(cfg, s) for s in cfg.pairs}
    at_limit = Bot(settings_from_config(cfg), limits)
    cmds = at_limit.handle(CandleClosed("BTC/USDT", _feats(T0), 0.4))
    assert [c.reason for c in cmds if isinstance(c, SubmitOrder)] == ["entry"]
    wider = Bot(settings_from_config(cfg), limits)
    assert wider.handle(CandleClosed("BTC/USDT", _feats(T0), 0.41)) == []
    assert dict(wider.counters["BTC/USDT"].rejections) == {"spread": 1}


def test_one_group_near_miss_is_stored_with_its_values(
    make_config: Callable[..., BotConfig],
) -> None:
    """Only the primary group passing stores a one_group near miss with the deciding values."""
    cfg = make_config()
    bot = Bot(settings_from_config(cfg), {s: market_limits(cfg, s) for s in cfg.pairs})
    assert bot.handle(CandleClosed("BTC/USDT", _feats(T0, rsi=80.0), 0.02)) == []
    (nm,) = bot.near_misses.latest()
    assert (nm.kind, nm.reason, nm.ts) == ("one_group", "no_confirming", T0 + MIN)
    values = dict(nm.values)
    assert values["rsi"] == 80.0 and values["spread_pct"] == 0.02
