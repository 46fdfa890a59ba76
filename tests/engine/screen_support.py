"""Shared pieces of the screening tests: a passing candle and a bot with random account state."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.config.markets import market_limits
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config

REPO = Path(__file__).resolve().parents[2]
MIN = 60_000
T0 = 1_680_000_000_000
SPREAD = 0.02
PRESET_A = "runtime_config_optiscalpA.json"


def candle_features(ts: int) -> Features:
    """A candle on which preset A's 1+1 passes and no market filter blocks."""
    return Features(
        ts=ts, close=100.0, prev_close=100.0, volume=200.0, ema_fast=101.0, ema_slow=100.0,
        ema_fast_prev=100.5, ema_slow_prev=100.0, rsi=60.0, macd_hist=0.1, macd_hist_prev=0.05,
        atr=1.0, atr_median=1.0, vol_median=100.0, highest_high=99.0, vwap=99.0,
        vwap_prev=99.0, tradeable=1.0,
    )  # fmt: skip


def random_bot(
    rng: random.Random,
    name: str = PRESET_A,
    *,
    busy: int | None = 2,
    traded: float = 0.5,
    paused: float = 0.3,
    cash: Sequence[str] = ("400", "140", "60", "50.1", "40"),  # 50.1: notional
    shadows: bool = True,
) -> Bot:
    """A bot of config ``name`` with random account state: up to ``busy`` symbols with an
    entry in flight (None: any number), recent trades, pauses, a rate history and cash."""
    cfg = load_config(REPO / "configs" / name)
    if not shadows:
        cfg = cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": False})})
    bot = Bot(settings_from_config(cfg), {s: market_limits(cfg, s) for s in cfg.pairs})
    most = len(bot.s.symbols) if busy is None else busy
    for sym in rng.sample(list(bot.s.symbols), rng.randint(0, most)):
        bot.entry_orders[sym] = f"{sym}-e"
    for sym in bot.s.symbols:
        if rng.random() < traded:
            bot.last_trade[sym] = T0 - rng.randint(0, 10) * MIN
        if rng.random() < paused:
            bot.blacklist.paused_until[sym] = T0 + rng.randint(-10, 10) * MIN
    for ts in sorted(T0 - rng.randint(0, 70) * MIN for _ in range(rng.randint(0, 7))):
        bot.rate.record(ts)
    bot.cash = Decimal(rng.choice(list(cash)))
    return bot
