"""Rolling-window batch series (median, previous max, VWAP), each equal to its incremental class.

The batch twins of :class:`~optiflow.marketdata.indicators.RollingMedian`, ``RollingMax`` and
``RollingVwap``, built on the windows of :mod:`optiflow.marketdata.windows`.
"""

from __future__ import annotations

import numpy as np

from optiflow.marketdata.indicators import NAN, _check_period, _nan_array
from optiflow.marketdata.recurrence import FloatArray
from optiflow.marketdata.windows import window_max, window_median, window_sums


def rolling_median_series(x: FloatArray, window: int) -> FloatArray:
    """Median of the last ``window`` values at each index, as :class:`RollingMedian`."""
    _check_period("median window", window)
    out = _nan_array(len(x))
    if len(x) >= window:
        out[window - 1 :] = window_median(x, window)
    return out


def rolling_max_prev_series(x: FloatArray, lookback: int) -> FloatArray:
    """Max of the ``lookback`` values before each index, as :class:`RollingMax`."""
    _check_period("lookback", lookback)
    out = _nan_array(len(x))
    if len(x) > lookback:
        out[lookback:] = window_max(x[:-1], lookback)
    return out


def rolling_vwap_series(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, window: int
) -> FloatArray:
    """Rolling VWAP over ``window`` candles, as :class:`RollingVwap`."""
    _check_period("VWAP window", window)
    out = _nan_array(len(close))
    if len(close) < window:
        return out
    typical = (high + low + close) / 3.0
    spv = window_sums(typical * volume, window)
    sv = window_sums(volume, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(sv > 0.0, spv / sv, NAN)
    return out
