"""Screening candidates (numpy batch or one by one) counts exactly what the engine counts."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

from optiflow.domain.events import CandleClosed
from optiflow.engine.screen import NearBatch, flush_near, screen_candidates, screen_few
from optiflow.signals.catalogue import signal_values
from tests.engine.screen_support import MIN, SPREAD, T0, candle_features, random_bot


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
