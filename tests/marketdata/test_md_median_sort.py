"""The batch rolling median sorts a column's bit patterns as integers when no value has its
sign bit set: the medians stay those of the float sort (``window_median``), bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest

from optiflow.marketdata.windows import MedianColumn, window_median

SPECIAL = (0.0, np.nan, np.inf, 5e-324, 2.2e-308, 1.0, 1e300)


def _bits(x: np.ndarray) -> np.ndarray:
    """The float64 values of ``x`` as their bit patterns (NaN == NaN, -0.0 != 0.0)."""
    return np.asarray(x, dtype=np.float64).view(np.int64)


def _column(rng: random.Random, n: int, signed: bool) -> np.ndarray:
    """``n`` values: a few distinct levels (ties), specials, and negatives if ``signed``."""
    levels = [rng.choice(SPECIAL) if rng.random() < 0.2 else rng.random() * 3 for _ in range(6)]
    if signed:
        levels += [-rng.random() * 3, -0.0, -np.inf]
    return np.array([rng.choice(levels) for _ in range(n)], dtype=np.float64)


def _reference(x: np.ndarray, window: int, offset: int, rows: np.ndarray) -> np.ndarray:
    """``window_median`` (the float sort) at ``rows``, NaN elsewhere and before a full window."""
    out = np.full(len(x) + offset, np.nan)
    med = window_median(x, window)
    j = rows - offset
    j = j[(j >= window - 1) & (j < len(x))]
    out[j + offset] = med[j - (window - 1)]
    return out


@pytest.mark.parametrize("seed", range(40))
def test_batch_medians_equal_the_float_sort(seed: int) -> None:
    """Random columns (ties, zeros, NaN, infinities, subnormals; with and without negative
    values): ``MedianColumn.at`` equals ``window_median`` bit for bit at the rows read."""
    rng = random.Random(seed)
    window = rng.choice((1, 2, 3, 4, 7, 60))
    x = _column(rng, rng.randint(window, 300), signed=seed % 2 == 1)
    offset = rng.randint(0, 3)
    picked = sorted(rng.sample(range(len(x) + offset), rng.randint(0, len(x))))
    rows = np.array(picked, dtype=np.intp)
    got = MedianColumn(x, window, offset).at(rows)
    assert np.array_equal(_bits(got), _bits(_reference(x, window, offset, rows)))


def test_negative_values_are_sorted_as_floats() -> None:
    """A column with negative values gives the float sort's medians (their bit patterns,
    sorted as integers, would order negatives backwards: -2 after -1)."""
    x = np.array([-1.0, -2.0, -3.0, 4.0, -5.0, 6.0, -7.0], dtype=np.float64)
    rows = np.arange(len(x), dtype=np.intp)
    got = MedianColumn(x, 3).at(rows)
    assert np.array_equal(_bits(got), _bits(_reference(x, 3, 0, rows)))
    assert got[2] == -2.0 and got[4] == -3.0
