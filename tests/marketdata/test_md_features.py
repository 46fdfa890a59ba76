"""Tests of the feature tracker (live) and compute_features (batch): equal bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from optiflow.domain.errors import DataError
from optiflow.domain.market import Candle, Features
from optiflow.marketdata.features import (
    FeatureSpec,
    FeatureTracker,
    compute_features,
    compute_features_many,
    features_at,
    with_medians_at,
)
from optiflow.marketdata.loaders import CandleArrays, resample

HALT_START = 1_679_657_280_000  # 2023-03-24 11:28 UTC: first flat zero-volume bar
HALT_LAST = 1_679_661_540_000  # 12:39 UTC: last bar before the 80 missing ones
AFTER_GAP = 1_679_666_400_000  # 14:00 UTC: first bar after the gap


def incremental(arrays: CandleArrays, spec: FeatureSpec | None = None) -> list[Features]:
    """Features of every candle through the live tracker."""
    tracker = FeatureTracker(spec)
    return [tracker.update(arrays.candle(i)) for i in range(len(arrays))]


def assert_equal_bitwise(batch: Any, rows: list[Features]) -> None:
    """Every field of the batch Features equals the incremental values bit for bit."""
    for k, name in enumerate(Features._fields):
        col = np.array([r[k] for r in rows])
        assert np.array_equal(batch[k], col, equal_nan=True), name
        assert batch[k].dtype == (np.int64 if name == "ts" else np.float64), name


@pytest.mark.parametrize("symbol", ["BTC-USDT", "SOL-USDT"])
def test_batch_equals_incremental_on_real_data(
    real: Callable[[str], CandleArrays], symbol: str
) -> None:
    """All Features fields agree bit for bit over 66k real candles incl. the halt and gap."""
    arrays = real(symbol)
    assert_equal_bitwise(compute_features(arrays), incremental(arrays))


def test_batch_equals_incremental_with_other_periods(btc: CandleArrays) -> None:
    """Odd windows, short periods and 5m candles still agree bit for bit."""
    spec = FeatureSpec(
        ema_fast=3, ema_slow=50, rsi_period=7, macd_fast=5, macd_slow=35, macd_signal=4,
        atr_period=5, median_window=15, breakout_lookback=7, vwap_window=13,
        timeframe_ms=300_000,
    )  # fmt: skip
    five = resample(btc, 300_000)
    assert_equal_bitwise(compute_features(five, spec), incremental(five, spec))


def test_short_history_is_all_nan_where_not_warmed_up(btc: CandleArrays) -> None:
    """With fewer candles than a window the batch path returns NaN like the tracker."""
    part = btc.take(0, 25)
    f: Any = compute_features(part)
    assert_equal_bitwise(f, incremental(part))
    assert np.isnan(f.atr_median).all() and np.isnan(f.macd_hist).all()
    assert not np.isnan(f.ema_slow[20:]).any() and np.isnan(f.ema_slow[:20]).all()


def test_halt_bars_and_first_bar_after_gap_are_not_tradeable(btc: CandleArrays) -> None:
    """Flat zero-volume halt bars and the first bar after the 80-minute gap get tradeable=0."""
    f: Any = compute_features(btc)
    ts = f.ts
    halt = (ts >= HALT_START) & (ts <= HALT_LAST)
    assert halt.sum() == 72
    assert (btc.volume[halt] == 0).all() and (btc.high[halt] == btc.low[halt]).all()
    assert (f.tradeable[halt] == 0.0).all()
    i = int(np.searchsorted(ts, AFTER_GAP))
    assert ts[i] - ts[i - 1] == 81 * 60_000
    assert f.tradeable[i] == 0.0 and btc.volume[i] > 0
    assert f.tradeable[i + 1] == 1.0
    assert f.tradeable[0] == 0.0
    assert f.tradeable.sum() == len(ts) - 1 - 72 - 1
    # halt bars are real bars: the indicators moved through them, nothing was invented
    assert f.prev_close[i] == btc.close[i - 1] and not np.isnan(f.atr[halt]).any()


def test_features_at_returns_python_scalars(btc: CandleArrays) -> None:
    """features_at gives the scalar Features of one row, equal to the tracker's row."""
    part = btc.take(0, 200)
    row = features_at(compute_features(part), 150)
    assert type(row.ts) is int and all(type(x) is float for x in row[1:])
    assert np.array_equal(np.array(row[1:]), np.array(incremental(part)[150][1:]), equal_nan=True)


def test_tracker_rejects_non_increasing_timestamps() -> None:
    """Feeding the same candle twice is a data error, not a silent double update."""
    tracker = FeatureTracker()
    c = Candle(1_679_004_900_000, 1.0, 2.0, 0.5, 1.5, 3.0)
    tracker.update(c)
    with pytest.raises(DataError, match="not after"):
        tracker.update(c)


def test_spec_validation_and_timeframe_mismatch(btc: CandleArrays) -> None:
    """Non-positive periods and a spec timeframe different from the candles are refused."""
    with pytest.raises(ValueError, match="ema_fast"):
        FeatureSpec(ema_fast=0)
    with pytest.raises(ValueError, match="timeframe_ms"):
        compute_features(resample(btc.take(0, 100), 300_000))


@pytest.mark.parametrize(("window", "rows"), [(60, None), (7, 3000)])
def test_lazy_medians_give_the_same_rows(btc: CandleArrays, window: int, rows: int | None) -> None:
    """``lazy_medians`` (rows computed when read) gives every row bit for bit, NaNs and the
    zero-volume halt included."""
    spec = FeatureSpec(median_window=window)
    part = btc if rows is None else btc.take(0, rows)
    eager = compute_features(part, spec)
    lazy = compute_features(part, spec, lazy_medians=True)
    assert not isinstance(lazy.vol_median, np.ndarray)  # the lazy column is really used
    assert not isinstance(lazy.atr_median, np.ndarray)
    for i in range(len(part.ts)):
        a, b = features_at(eager, i), features_at(lazy, i)
        assert np.array_equal(np.array(a), np.array(b), equal_nan=True), i
    with pytest.raises(IndexError):
        features_at(lazy, len(part.ts))


def test_many_series_at_once_equal_each_alone(real: Callable[[str], CandleArrays]) -> None:
    """``compute_features_many`` (recurrences of all series advanced together, rows of
    different lengths padded) gives each series' features bit for bit, short ones included."""
    btc, sol = real("BTC-USDT"), real("SOL-USDT")
    mix = [btc, sol.take(0, 30_000), btc.take(0, 20), sol.take(100, 140), btc.take(0, 1)]
    for spec in (FeatureSpec(), FeatureSpec(ema_slow=50, rsi_period=7, atr_period=30)):
        together = compute_features_many(mix, spec)
        for arrays, batch in zip(mix, together, strict=True):
            alone = compute_features(arrays, spec)
            for k, name in enumerate(Features._fields):
                assert np.array_equal(batch[k], alone[k], equal_nan=True), name
                assert batch[k].dtype == alone[k].dtype, name


@pytest.mark.parametrize("window", [60, 7])
def test_medians_at_some_rows_equal_the_eager_ones(btc: CandleArrays, window: int) -> None:
    """``with_medians_at``: the chosen rows' medians (NaN elsewhere) equal the eager ones bit
    for bit, and its row reader still gives every row, chosen or not."""
    spec = FeatureSpec(median_window=window)
    part = btc.take(0, 5000)
    eager = compute_features(part, spec)
    chosen = np.flatnonzero(np.arange(5000) % 3 == 0)  # incl. rows before a full window
    arrays, reads = with_medians_at(compute_features(part, spec, lazy_medians=True), chosen)
    for name in ("atr_median", "vol_median"):
        got, want = getattr(arrays, name), getattr(eager, name)
        assert np.array_equal(got[chosen], want[chosen], equal_nan=True), name
        others = np.setdiff1d(np.arange(5000), chosen)
        assert np.isnan(got[others]).all(), name
        assert np.count_nonzero(~np.isnan(got)) > 1000, name  # real values were computed
    for i in range(0, 5000, 7):
        a, b = features_at(eager, i), features_at(reads, i)
        assert np.array_equal(np.array(a), np.array(b), equal_nan=True), i
