"""Screening candidates (numpy batch or one by one) counts exactly what the engine counts."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from optiflow.config.loader import load_config
from optiflow.config.markets import market_limits
from optiflow.domain.events import CandleClosed
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.engine.screen import NearBatch, flush_near, screen_candidates, screen_few
from optiflow.engine.settings import settings_from_config
from optiflow.signals.catalogue import signal_values

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


def random_bot(rng: random.Random) -> Bot:
    """Preset A with random account state: busy symbols, cooldowns, rate, pauses, cash."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    bot = Bot(settings_from_config(cfg), {s: market_limits(cfg, s) for s in cfg.pairs})
    for sym in rng.sample(list(bot.s.symbols), rng.randint(0, 2)):
        bot.entry_orders[sym] = f"{sym}-e"
    for sym in bot.s.symbols:
        if rng.random() < 0.5:
            bot.last_trade[sym] = T0 - rng.randint(0, 10) * MIN
        if rng.random() < 0.3:
            bot.blacklist.paused_until[sym] = T0 + rng.randint(-10, 10) * MIN
    for ts in sorted(T0 - rng.randint(0, 70) * MIN for _ in range(rng.randint(0, 7))):
        bot.rate.record(ts)
    bot.cash = Decimal(rng.choice(["400", "140", "60", "50.1", "40"]))  # 50.1: notional
    return bot


@pytest.mark.parametrize("seed", range(300))
def test_one_by_one_and_batch_screens_count_like_the_engine(seed: int) -> None:
    """Same first unblocked candidate, counters and near misses as the engine fed one by one."""
    rng = random.Random(seed)
    bot = random_bot(rng)
    n = rng.randint(1, 6)
    sym_idx = np.array([rng.randrange(3) for _ in range(n)], dtype=np.int64)
    steps = [rng.randint(0, 4) * MIN for _ in range(n)]
    nows = np.array(np.cumsum(steps) + T0, dtype=np.int64)

    def values(j: int) -> tuple[tuple[str, float], ...]:
        return signal_values(candle_features(int(nows[j]) - MIN))

    batch, few, engine = bot, copy.deepcopy(bot), copy.deepcopy(bot)
    near_batch: list[NearBatch] = []
    near_few: list[NearBatch] = []
    k = screen_candidates(batch, sym_idx, nows, values, SPREAD, near_batch)
    assert screen_few(few, sym_idx, nows, values, near_few) == k
    flush_near(batch, near_batch, SPREAD)
    flush_near(few, near_few, SPREAD)
    for j in range(n):  # the engine itself: every blocked one returns no order
        sym = engine.s.symbols[int(sym_idx[j])]
        ev = CandleClosed(sym, candle_features(int(nows[j]) - MIN), SPREAD)
        out = [c for c in engine.handle(ev) if type(c).__name__ == "SubmitOrder"]
        if out:
            assert j == k
            break
    else:
        assert k == n
    for b in (batch, few):
        if k < n:  # the screen hands the unblocked one to the engine, as the fast feed does
            sym = b.s.symbols[int(sym_idx[k])]
            assert b.handle(CandleClosed(sym, candle_features(int(nows[k]) - MIN), SPREAD))
        assert {s: c.frozen() for s, c in b.counters.items()} == {
            s: c.frozen() for s, c in engine.counters.items()
        }
        assert b.near_misses.latest() == engine.near_misses.latest()
