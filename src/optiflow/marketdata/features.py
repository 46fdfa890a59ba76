"""Per-symbol rolling features: one candle at a time (live) or whole arrays (backtest), equal.

:class:`FeatureTracker` is the live path; :func:`compute_features` the batch path. They are
built from the twin indicator implementations in :mod:`optiflow.marketdata.indicators`, so
every field agrees bit for bit (a test proves it on real data). Zero-volume candles (e.g.
an exchange halt) are real bars and update the indicators; missing candles are never
invented, the indicators continue with the next real candle, and ``tradeable`` is 0.0 for
a zero-volume candle and for the first candle after a gap (and for the very first candle).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from optiflow.domain.errors import DataError
from optiflow.domain.market import Candle, Features
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.indicators import (
    Atr,
    Ema,
    MacdHist,
    RollingMax,
    RollingMedian,
    RollingVwap,
    Rsi,
)
from optiflow.marketdata.indicators_many import (
    ema_series_multi,
    macd_hist_multi,
    rsi_atr_series_multi,
)
from optiflow.marketdata.recurrence import FloatArray
from optiflow.marketdata.rolling_series import (
    rolling_max_prev_series,
    rolling_median_series,
    rolling_vwap_series,
)
from optiflow.marketdata.windows import MedianColumn

NAN = math.nan


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Periods and windows of every feature (in candles) and the candle timeframe."""

    ema_fast: int = 9
    ema_slow: int = 21
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    atr_period: int = 14
    median_window: int = 60
    breakout_lookback: int = 20
    vwap_window: int = 60
    timeframe_ms: int = 60_000

    def __post_init__(self) -> None:
        """Reject non-positive periods."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"FeatureSpec.{f.name} must be a positive int, got {value!r}")


class FeatureTracker:
    """Incremental features of one symbol: feed closed candles in order, get Features."""

    def __init__(self, spec: FeatureSpec | None = None) -> None:
        """Start with no history; every indicator warms up from the first candle fed."""
        self.spec = spec = spec or FeatureSpec()
        self._ema_fast = Ema(spec.ema_fast)
        self._ema_slow = Ema(spec.ema_slow)
        self._rsi = Rsi(spec.rsi_period)
        self._macd = MacdHist(spec.macd_fast, spec.macd_slow, spec.macd_signal)
        self._atr = Atr(spec.atr_period)
        self._atr_median = RollingMedian(spec.median_window)
        self._vol_median = RollingMedian(spec.median_window)
        self._highest = RollingMax(spec.breakout_lookback)
        self._vwap = RollingVwap(spec.vwap_window)
        self._last: Features | None = None

    @property
    def last(self) -> Features | None:
        """Features of the last candle fed, or None before the first."""
        return self._last

    def update(self, c: Candle) -> Features:
        """Feed the next closed candle (strictly later open time) and return its Features."""
        last = self._last
        if last is not None and c.ts <= last.ts:
            raise DataError(f"candle at {c.ts} is not after the previous one at {last.ts}")
        ts = int(c.ts)
        h, lo, cl, v = float(c.high), float(c.low), float(c.close), float(c.volume)
        atr = self._atr.update(h, lo, cl)
        atr_median = NAN if math.isnan(atr) else self._atr_median.update(atr)
        tradeable = (
            1.0 if last is not None and v > 0.0 and ts == last.ts + self.spec.timeframe_ms else 0.0
        )
        feats = Features(
            ts=ts,
            close=cl,
            prev_close=NAN if last is None else last.close,
            volume=v,
            ema_fast=self._ema_fast.update(cl),
            ema_slow=self._ema_slow.update(cl),
            ema_fast_prev=NAN if last is None else last.ema_fast,
            ema_slow_prev=NAN if last is None else last.ema_slow,
            rsi=self._rsi.update(cl),
            macd_hist=self._macd.update(cl),
            macd_hist_prev=NAN if last is None else last.macd_hist,
            atr=atr,
            atr_median=atr_median,
            vol_median=self._vol_median.update(v),
            highest_high=self._highest.update(h),
            vwap=self._vwap.update(h, lo, cl, v),
            vwap_prev=NAN if last is None else last.vwap,
            tradeable=tradeable,
        )
        self._last = feats
        return feats


def _prev(x: FloatArray) -> FloatArray:
    """``x`` shifted one candle later (value at the previous candle; NaN for the first)."""
    out = np.empty_like(x)
    out[:1] = NAN
    out[1:] = x[:-1]
    return out


def _read_only(x: Any, dtype: type[np.generic]) -> Any:
    """``x`` as an array of ``dtype``, not copied when it is one already: a read-only view
    (the features share the candles' memory and never write through it)."""
    out = np.asarray(x, dtype=dtype).view()
    out.flags.writeable = False
    return out


def _with_prev(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(x, _prev(x))`` as two views of one buffer of ``len(x) + 1`` values (NaN first):
    the same values in half the memory. ``x`` is used as it is when it already sits one
    element into such a buffer (``nan_after_nan``), else copied into a new one."""
    base = x.base
    if (
        isinstance(base, np.ndarray)
        and base.dtype == np.float64
        and base.shape == (len(x) + 1,)
        and base.strides == x.strides == (8,)
        and x.ctypes.data == base.ctypes.data + 8
        and math.isnan(base.item(0))
    ):
        return x, base[:-1]
    buf = np.empty(len(x) + 1, dtype=np.float64)
    buf[0] = NAN
    buf[1:] = x
    return buf[1:], buf[:-1]


def compute_features(
    arrays: CandleArrays, spec: FeatureSpec | None = None, lazy_medians: bool = False
) -> Features:
    """Features of every candle as numpy arrays (ts int64, others float64), batch path.

    ``lazy_medians``: ``atr_median`` and ``vol_median`` are :class:`MedianColumn` (rows
    computed when read, by ``features_at``), for a caller whose signals and filters never
    read them as arrays; the values are the same.
    """
    return compute_features_many([arrays], spec, lazy_medians)[0]


def compute_features_many(
    many: Sequence[CandleArrays], spec: FeatureSpec | None = None, lazy_medians: bool = False
) -> list[Features]:
    """:func:`compute_features` of each candle arrays of ``many`` (the same values), with the
    recurrences of all of them advanced together (``indicators_many``)."""
    spec = spec or FeatureSpec()
    cols: list[tuple[FloatArray, ...]] = []
    for arrays in many:
        if arrays.timeframe_ms != spec.timeframe_ms:
            raise ValueError(
                f"{arrays.symbol}: candles are {arrays.timeframe_ms} ms but "
                f"FeatureSpec.timeframe_ms is {spec.timeframe_ms}"
            )
        cols.append(
            (
                _read_only(arrays.ts, np.int64),
                _read_only(arrays.high, np.float64),
                _read_only(arrays.low, np.float64),
                _read_only(arrays.close, np.float64),
                _read_only(arrays.volume, np.float64),
            )
        )
    emas = ema_series_multi(
        [c[3] for c in cols], [spec.ema_fast, spec.ema_slow, spec.macd_fast, spec.macd_slow]
    )
    hists = macd_hist_multi(  # the MACD EMAs are needed for nothing else: scratch
        [e[2] for e in emas], [e[3] for e in emas], spec.macd_signal, consume=True
    )
    rsi_atr = rsi_atr_series_multi(
        [c[1] for c in cols], [c[2] for c in cols], [c[3] for c in cols],
        spec.rsi_period, spec.atr_period,
    )  # fmt: skip
    return [
        _assemble(spec, lazy_medians, col, ema[0], ema[1], hist, rsi, atr)
        for col, ema, hist, (rsi, atr) in zip(cols, emas, hists, rsi_atr, strict=True)
    ]


def _assemble(
    spec: FeatureSpec,
    lazy_medians: bool,
    col: tuple[FloatArray, ...],
    ema_fast: FloatArray,
    ema_slow: FloatArray,
    macd_hist: FloatArray,
    rsi: FloatArray,
    atr: FloatArray,
) -> Features:
    """One symbol's Features from its columns (ts, high, low, close, volume) and the
    indicators computed in batch."""
    ts, h, lo, c, v = col
    n = len(ts)
    c, prev_close = _with_prev(c)
    ema_fast, ema_fast_prev = _with_prev(ema_fast)
    ema_slow, ema_slow_prev = _with_prev(ema_slow)
    macd_hist, macd_hist_prev = _with_prev(macd_hist)
    start = spec.atr_period - 1
    atr_median: Any
    if n > start and lazy_medians:
        atr_median = MedianColumn(atr[start:], spec.median_window, start)
    else:
        atr_median = np.full(n, NAN)
        if n > start:
            atr_median[start:] = rolling_median_series(atr[start:], spec.median_window)
    vwap, vwap_prev = _with_prev(rolling_vwap_series(h, lo, c, v, spec.vwap_window))
    tradeable = np.zeros(n, dtype=np.float64)
    if n > 1:
        tradeable[1:] = (ts[1:] - ts[:-1] == spec.timeframe_ms) & (v[1:] > 0.0)
    cols: dict[str, Any] = {
        "ts": ts,
        "close": c,
        "prev_close": prev_close,
        "volume": v,
        "ema_fast": ema_fast,
        "ema_slow": ema_slow,
        "ema_fast_prev": ema_fast_prev,
        "ema_slow_prev": ema_slow_prev,
        "rsi": rsi,
        "macd_hist": macd_hist,
        "macd_hist_prev": macd_hist_prev,
        "atr": atr,
        "atr_median": atr_median,
        "vol_median": MedianColumn(v, spec.median_window)
        if lazy_medians
        else rolling_median_series(v, spec.median_window),
        "highest_high": rolling_max_prev_series(h, spec.breakout_lookback),
        "vwap": vwap,
        "vwap_prev": vwap_prev,
        "tradeable": tradeable,
    }
    return Features(**cols)


def with_medians_at(f: Features, rows: np.ndarray) -> tuple[Features, Features]:
    """Lazy-median Features ``f`` (``compute_features(..., lazy_medians=True)``) with the
    medians of the rows ``rows`` (sorted) computed at once: (arrays holding those rows and
    NaN elsewhere, for array code reading only those rows; Features reading those rows
    from the arrays and any other row as ``f`` does). The values are ``f``'s."""
    arrays: dict[str, Any] = {}
    reads: dict[str, Any] = {}
    for name in ("atr_median", "vol_median"):
        col = getattr(f, name)
        if isinstance(col, MedianColumn):
            arrays[name] = col.at(rows)
            reads[name] = MedianColumn(col.x, col.window, col.offset, arrays[name])
    return f._replace(**arrays), f._replace(**reads)


def features_at(arrays_features: Features, i: int) -> Features:
    """Row ``i`` of batch Features as scalar Features (int ts, Python floats)."""
    f: Any = arrays_features
    return Features(f.ts.item(i), *[col.item(i) for col in f[1:]])  # .item: Python scalars


def row_reader(arrays_features: Features) -> Callable[[int], Features]:
    """:func:`features_at` for one batch of Features, with the column readers bound once."""
    cols: Any = arrays_features
    items = [col.item for col in cols]  # .item: Python scalars
    make = Features._make
    return lambda i: make([item(i) for item in items])


class FeatureCache:
    """Batch features kept per (candle arrays, settings): many backtests of one data set
    (the optimizer's trials) compute each indicator setting once instead of once per run."""

    def __init__(self, max_entries: int = 64) -> None:
        """An empty cache holding at most ``max_entries`` feature sets (oldest dropped first)."""
        self.max_entries = max_entries
        self._items: dict[tuple[int, FeatureSpec, bool], tuple[CandleArrays, Features]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, arrays: CandleArrays, spec: FeatureSpec, lazy: bool = False) -> Features:
        """The features of ``arrays`` under ``spec``, computed on first use."""
        key = (id(arrays), spec, lazy)
        held = self._items.get(key)
        if held is not None and held[0] is arrays:  # the very same arrays object, not a reused id
            self.hits += 1
            return held[1]
        self.misses += 1
        feats = compute_features(arrays, spec, lazy)
        if len(self._items) >= self.max_entries:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (arrays, feats)
        return feats
