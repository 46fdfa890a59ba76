"""Batch features share memory where they can: candle columns not copied, *_prev columns
one buffer with their column, and the values stay those of the candle-by-candle tracker."""

from __future__ import annotations

import numpy as np
import pytest

from optiflow.marketdata.features import compute_features, compute_features_many
from optiflow.marketdata.loaders import CandleArrays

PAIRS = (
    ("close", "prev_close"),
    ("ema_fast", "ema_fast_prev"),
    ("ema_slow", "ema_slow_prev"),
    ("macd_hist", "macd_hist_prev"),
    ("vwap", "vwap_prev"),
)


def _bits(x: np.ndarray) -> np.ndarray:
    """The float64 values of ``x`` as their bit patterns (NaN == NaN, -0.0 != 0.0)."""
    return np.asarray(x, dtype=np.float64).view(np.int64)


@pytest.mark.parametrize("column, prev", PAIRS)
def test_prev_columns_are_the_column_one_candle_later(
    btc: CandleArrays, column: str, prev: str
) -> None:
    """Each *_prev column holds, bit for bit, its column's previous value (NaN first)."""
    f = compute_features(btc)
    x, p = getattr(f, column), getattr(f, prev)
    assert np.isnan(p[0])
    assert np.array_equal(_bits(p[1:]), _bits(x[:-1]))
    assert len(p) == len(x) == len(btc.ts)
    assert np.shares_memory(x, p)  # one buffer, not a shifted copy


def test_candle_columns_are_shared_read_only_not_copied(btc: CandleArrays) -> None:
    """ts and volume are the candles' own memory, read-only through the features; the
    candles' close is copied once (with its previous value) and stays unchanged."""
    close_before = np.array(btc.close, dtype=np.float64)
    (f,) = compute_features_many([btc])
    assert np.shares_memory(f.ts, np.asarray(btc.ts))
    assert np.shares_memory(f.volume, np.asarray(btc.volume))
    assert not f.ts.flags.writeable and not f.volume.flags.writeable
    with pytest.raises(ValueError):
        f.volume[0] = 1.0
    assert np.shares_memory(f.close, f.prev_close)
    assert np.array_equal(_bits(f.close), _bits(close_before))
