"""``first_cross`` (numpy chunks growing 64, 256, 1024, ...) equals a plain scan."""

from __future__ import annotations

import numpy as np

from optiflow.runtimes.bulk_stats import first_cross


def brute_cross(
    lo: np.ndarray, hi: np.ndarray, start: int, stop: int, lower: float, upper: float
) -> int:
    """The first candle in [start, stop) with low <= lower or high >= upper, by a plain scan."""
    for j in range(start, stop):
        if lo[j] <= lower or hi[j] >= upper:
            return j
    return stop


def test_first_cross_equals_a_plain_scan_near_and_far() -> None:
    """Random walks with NaNs, bands crossed at once, in a later chunk, far away or never:
    the same candle as a plain scan every time."""
    rng = np.random.default_rng(5)
    lo = 100.0 + np.round(rng.normal(0.0, 0.05, 3000).cumsum(), 2)
    hi = lo + np.round(rng.uniform(0.0, 0.1, 3000), 2)
    lo[rng.random(3000) < 0.03] = np.nan
    hi[rng.random(3000) < 0.03] = np.nan
    near = far = 0
    for _ in range(2000):
        start = int(rng.integers(0, 3000))
        stop = int(rng.integers(start, min(3000, start + 700) + 1))
        width = float(rng.choice([0.0, 0.05, 0.3, 1.0, 5.0]))
        ref = lo[start] if lo[start] == lo[start] else 100.0
        lower, upper = ref - width, ref + width
        want = brute_cross(lo, hi, start, stop, lower, upper)
        assert first_cross(lo, hi, start, stop, lower, upper) == want
        near += want - start < 64 and want < stop
        far += want - start >= 64 and want < stop
    assert near > 200 and far > 100  # crossings in the first chunk and in later ones


def test_first_cross_on_a_level_and_past_the_stop() -> None:
    """A low equal to the lower level crosses (<=), a high equal to the upper crosses (>=);
    a crossing at ``stop`` or later is not found."""
    lo = np.full(100, 10.0)
    hi = np.full(100, 11.0)
    lo[3], hi[40] = 5.0, 50.0
    assert first_cross(lo, hi, 0, 100, 5.0, 60.0) == 3
    assert first_cross(lo, hi, 4, 100, 5.0, 50.0) == 40
    assert first_cross(lo, hi, 4, 40, 5.0, 50.0) == 40  # none before the stop
    assert first_cross(lo, hi, 41, 100, 5.0, 50.0) == 100
