"""The fast feed's band search over (-low, high) pairs finds exactly what ``first_cross`` finds."""

from __future__ import annotations

import numpy as np

from optiflow.runtimes.backtest import _first_traded_cross
from optiflow.runtimes.bulk_stats import band_pairs, first_cross, first_cross_pairs


def test_pair_search_equals_first_cross_on_random_bands() -> None:
    """Random lows/highs (with NaNs, ties on the levels, signed zeros and infinities) and
    random bands and spans: the pair search returns first_cross's candle every time."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(1, 400))
        lo = np.round(rng.normal(100.0, 2.0, n), 1)
        hi = lo + np.round(rng.uniform(0.0, 3.0, n), 1)
        lo[rng.random(n) < 0.05] = np.nan
        hi[rng.random(n) < 0.05] = np.nan
        if n > 3:
            lo[1], hi[2] = 0.0, np.inf
        pairs = band_pairs(lo, hi)
        for _ in range(10):
            start = int(rng.integers(0, n))
            stop = int(rng.integers(start, n + 1))
            lower = float(np.round(rng.normal(95.0, 3.0), 1))
            upper = float(np.round(rng.normal(105.0, 3.0), 1))
            if rng.random() < 0.1:
                lower, upper = -0.0, np.inf
            want = first_cross(lo, hi, start, stop, lower, upper)
            assert first_cross_pairs(pairs, start, stop, lower, upper) == want


def test_pair_search_finds_a_low_and_a_high_on_the_same_candle() -> None:
    """A candle crossing only by its high, after one crossing only by its low: each is found
    at its own index (a wrong row of the flat hit would be off by one)."""
    lo = np.array([10.0, 10.0, 4.0, 10.0, 10.0])
    hi = np.array([11.0, 11.0, 11.0, 60.0, 11.0])
    pairs = band_pairs(lo, hi)
    assert first_cross_pairs(pairs, 0, 5, 5.0, 50.0) == 2
    assert first_cross_pairs(pairs, 3, 5, 5.0, 50.0) == 3
    assert first_cross_pairs(pairs, 4, 5, 5.0, 50.0) == 5  # none: stop


def test_traded_cross_with_pairs_skips_bars_not_traded() -> None:
    """With pairs, the traded-bars search skips bars not traded exactly as without."""
    lo = np.array([10.0, 10, 10, 1, 10, 10, 2, 10])
    hi = np.array([11.0, 11, 11, 11, 11, 11, 11, 99])
    untraded = np.zeros(8, dtype=bool)
    untraded[[3, 7]] = True
    pairs = band_pairs(lo, hi)
    for start, stop in ((0, 8), (0, 6), (7, 8), (4, 8)):
        want = _first_traded_cross(lo, hi, untraded, start, stop, (5.0, 50.0))
        got = _first_traded_cross(lo, hi, untraded, start, stop, (5.0, 50.0), pairs)
        assert got == want
