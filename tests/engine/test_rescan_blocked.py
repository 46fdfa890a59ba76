"""``Bot.rescan_blocked`` says True only where a rescan returns nothing and changes nothing."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.config.markets import market_limits
from optiflow.domain.events import CandleClosed
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config

REPO = Path(__file__).resolve().parents[2]
MIN = 60_000
T0 = 1_680_000_000_000
SPREAD = 0.02


def candle_features(ts: int) -> Features:
    """A candle on which preset A's 1+1 passes and no market filter blocks."""
    return Features(
        ts=ts, close=100.0, prev_close=100.0, volume=200.0, ema_fast=101.0, ema_slow=100.0,
        ema_fast_prev=100.5, ema_slow_prev=100.0, rsi=60.0, macd_hist=0.1, macd_hist_prev=0.05,
        atr=1.0, atr_median=1.0, vol_median=100.0, highest_high=99.0, vwap=99.0,
        vwap_prev=99.0, tradeable=1.0,
    )  # fmt: skip


def state(bot: Bot) -> object:
    """Everything a rescan could change, comparable."""
    return (
        dict(bot.orders), dict(bot.entry_orders), bot.reserved, bot.seq, dict(bot.last_trade),
        list(bot.rate.entries), dict(bot.blacklist.paused_until),
        {s: c.frozen() for s, c in bot.counters.items()}, bot.near_misses.latest(),
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(200))
def test_rescan_blocked_only_where_the_engine_does_nothing(seed: int) -> None:
    """Random account states: wherever ``rescan_blocked`` is True, the rescan event returns
    no command and leaves the state as it was; and it is True for some states."""
    rng = random.Random(seed)
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    bot = Bot(settings_from_config(cfg), {s: market_limits(cfg, s) for s in cfg.pairs})
    for sym in rng.sample(list(bot.s.symbols), rng.randint(0, 2)):
        bot.entry_orders[sym] = f"{sym}-e"
    for sym in bot.s.symbols:
        if rng.random() < 0.6:
            bot.last_trade[sym] = T0 - rng.randint(0, 10) * MIN
        if rng.random() < 0.2:
            bot.blacklist.paused_until[sym] = T0 + rng.randint(-10, 10) * MIN
    for ts in sorted(T0 - rng.randint(0, 70) * MIN for _ in range(rng.randint(0, 7))):
        bot.rate.record(ts)
    bot.cash = Decimal(rng.choice(["400", "140", "60", "40"]))
    sym = rng.choice(bot.s.symbols)
    opened = T0 - MIN + rng.randint(-3, 3) * MIN
    now = opened + bot.s.timeframe_ms
    blocked = bot.rescan_blocked(sym, now)
    before = state(bot)
    shown = copy.deepcopy(bot)
    out = shown.handle(CandleClosed(sym, candle_features(opened), SPREAD, rescan=True))
    if blocked:
        assert out == []
        assert state(shown) == before
    bot.trace = []  # a traced decision is always shown
    assert not bot.rescan_blocked(sym, now)
