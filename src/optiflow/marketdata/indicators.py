"""Incremental indicators (live path) and their batch twins (backtests), bit-identical.

Each class takes one candle's values per ``update`` call and returns NaN until warmed up.
Each ``*_series`` function computes the same indicator over whole numpy arrays with the
same floating-point operations in the same order, so batch and live agree bit for bit:
recursions share the step functions of :mod:`optiflow.marketdata.recurrence`, windowed
sums use the fixed summation tree of :mod:`optiflow.marketdata.windows`, and medians and
maxima pick the same stored numbers whatever the algorithm.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Sequence

import numpy as np

from optiflow.marketdata.recurrence import (
    FloatArray,
    ema_step,
    run_recurrence,
    run_recurrences,
    run_sequential,
    warmup_steps,
    wilder_step,
)
from optiflow.marketdata.windows import tree_sum

NAN = math.nan


def _check_period(name: str, period: int) -> None:
    """Reject a non-positive window or period."""
    if period < 1:
        raise ValueError(f"{name} must be >= 1, got {period}")


class Ema:
    """EMA with alpha = 2/(n+1), seeded with the mean of the first n values (ready at the n-th)."""

    def __init__(self, period: int) -> None:
        """Create an EMA over ``period`` values."""
        _check_period("EMA period", period)
        self.period = period
        self.alpha = 2.0 / (period + 1)
        self._seed: list[float] = []
        self.value = NAN

    def update(self, x: float) -> float:
        """Feed one value; return the EMA (NaN until ``period`` values were seen)."""
        if self._seed is not None and len(self._seed) < self.period:
            self._seed.append(x)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
            return self.value
        self.value = ema_step(self.value, x, self.alpha)
        return self.value


class Rsi:
    """Wilder RSI, seeded with the mean of the first n gains/losses; 100 when avg loss is 0."""

    def __init__(self, period: int) -> None:
        """Create an RSI over ``period`` price changes (ready after period+1 closes)."""
        _check_period("RSI period", period)
        self.period = period
        self._prev = NAN
        self._gains: list[float] = []
        self._losses: list[float] = []
        self._avg_gain = NAN
        self._avg_loss = NAN

    def update(self, close: float) -> float:
        """Feed one close; return the RSI (NaN until warmed up)."""
        prev, self._prev = self._prev, close
        if math.isnan(prev):
            return NAN
        d = close - prev
        gain = d if d > 0.0 else 0.0
        loss = -d if d < 0.0 else 0.0
        n = self.period
        if len(self._gains) < n:
            self._gains.append(gain)
            self._losses.append(loss)
            if len(self._gains) < n:
                return NAN
            self._avg_gain = math.fsum(self._gains) / n
            self._avg_loss = math.fsum(self._losses) / n
        else:
            self._avg_gain = wilder_step(self._avg_gain, gain, float(n))
            self._avg_loss = wilder_step(self._avg_loss, loss, float(n))
        if self._avg_loss == 0.0:
            return 100.0
        return 100.0 - 100.0 / (1.0 + self._avg_gain / self._avg_loss)


class MacdHist:
    """MACD histogram: EMA(fast) - EMA(slow) of close, minus the EMA(signal) of that line."""

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        """Create the MACD histogram; the signal EMA is fed only once the MACD line exists."""
        self._fast = Ema(fast)
        self._slow = Ema(slow)
        self._signal = Ema(signal)

    def update(self, close: float) -> float:
        """Feed one close; return macd - signal (NaN until warmed up)."""
        macd = self._fast.update(close) - self._slow.update(close)
        if math.isnan(macd):
            return NAN
        return macd - self._signal.update(macd)


class Atr:
    """Wilder ATR; true range uses the previous close (first TR = high - low)."""

    def __init__(self, period: int) -> None:
        """Create an ATR over ``period`` true ranges (ready at the period-th candle)."""
        _check_period("ATR period", period)
        self.period = period
        self._prev_close = NAN
        self._seed: list[float] = []
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        """Feed one candle; return the ATR (NaN until warmed up)."""
        pc, self._prev_close = self._prev_close, close
        tr = high - low
        if not math.isnan(pc):
            tr = max(tr, abs(high - pc), abs(low - pc))
        if len(self._seed) < self.period:
            self._seed.append(tr)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
            return self.value
        self.value = wilder_step(self.value, tr, float(self.period))
        return self.value


class RollingMedian:
    """Median of the last ``window`` values (np.median semantics), via a sorted list."""

    def __init__(self, window: int) -> None:
        """Create a rolling median over ``window`` values."""
        _check_period("median window", window)
        self.window = window
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def update(self, x: float) -> float:
        """Add one value; return the median of the last ``window`` values (NaN until full)."""
        self._fifo.append(x)
        insort(self._sorted, x)
        if len(self._fifo) > self.window:
            old = self._fifo.popleft()
            del self._sorted[bisect_left(self._sorted, old)]
        if len(self._fifo) < self.window:
            return NAN
        s, k = self._sorted, self.window // 2
        if self.window % 2:
            return s[k]
        return (s[k - 1] + s[k]) / 2.0


class RollingMax:
    """Highest value of the previous ``lookback`` updates, EXCLUDING the current one."""

    def __init__(self, lookback: int) -> None:
        """Create a rolling maximum over the ``lookback`` values before the current one."""
        _check_period("lookback", lookback)
        self._fifo: deque[float] = deque(maxlen=lookback)

    def update(self, x: float) -> float:
        """Return max of the previous ``lookback`` values (NaN until that many), then add x."""
        fifo = self._fifo
        out = max(fifo) if len(fifo) == fifo.maxlen else NAN
        fifo.append(x)
        return out


class RollingVwap:
    """VWAP over the last ``window`` candles: sum(typical * volume) / sum(volume)."""

    def __init__(self, window: int) -> None:
        """Create a rolling VWAP; NaN until full and whenever the window's volume is 0."""
        _check_period("VWAP window", window)
        self.window = window
        self._pv: deque[float] = deque(maxlen=window)
        self._vol: deque[float] = deque(maxlen=window)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        """Feed one candle; return the rolling VWAP."""
        typical = (high + low + close) / 3.0
        self._pv.append(typical * volume)
        self._vol.append(volume)
        if len(self._vol) < self.window:
            return NAN
        sv = tree_sum(list(self._vol))
        if not sv > 0.0:
            return NAN
        return tree_sum(list(self._pv)) / sv


# ---------------------------------------------------------------- batch twins


def _nan_array(n: int) -> FloatArray:
    """An array of ``n`` NaNs."""
    return np.full(n, NAN, dtype=np.float64)


def ema_series_many(x: FloatArray, periods: Sequence[int]) -> list[FloatArray]:
    """EMAs of ``x`` for several periods, advanced together; each equals :class:`Ema`."""
    n = len(x)
    outs = [_nan_array(n) for _ in periods]
    for p in periods:
        _check_period("EMA period", p)
    live = [(i, p) for i, p in enumerate(periods) if n >= p]
    if not live:
        return outs
    common = max(p for _, p in live) - 1  # first index where every EMA has a value
    alphas = [2.0 / (p + 1) for _, p in live]
    seeds = ema_heads(x, [outs[i] for i, _ in live], [p for _, p in live], alphas, common)
    rest = run_recurrences(
        ema_step, seeds, x[common + 1 :], alphas, warmup=warmup_steps(1.0 - min(alphas))
    )
    for row, (i, _) in enumerate(live):
        outs[i][common + 1 :] = rest[row]
    return outs


def ema_heads(
    x: FloatArray,
    outs: Sequence[FloatArray],
    periods: Sequence[int],
    alphas: Sequence[float],
    common: int,
) -> list[float]:
    """Each EMA's seed and its sequential steps up to index ``common`` written into its
    ``outs`` row; returns the states at ``common``, where the batched recurrence starts."""
    for out, p, alpha in zip(outs, periods, alphas, strict=True):
        seed = math.fsum(x[:p].tolist()) / p
        out[p - 1] = seed
        out[p : common + 1] = run_sequential(ema_step, seed, x[p : common + 1].tolist(), alpha)
    return [float(out[common]) for out in outs]


def ema_series(x: FloatArray, period: int) -> FloatArray:
    """EMA of ``x`` with the same seed and steps as :class:`Ema`."""
    return ema_series_many(x, [period])[0]


def rsi_series(close: FloatArray, period: int) -> FloatArray:
    """Wilder RSI of ``close`` with the same seed and steps as :class:`Rsi`."""
    _check_period("RSI period", period)
    out = _nan_array(len(close))
    if len(close) < period + 1:
        return out
    d = close[1:] - close[:-1]
    moves = np.stack([np.where(d > 0.0, d, 0.0), np.where(d < 0.0, -d, 0.0)])
    n = float(period)
    seeds = [math.fsum(row[:period].tolist()) / period for row in moves]
    rest = run_recurrences(
        wilder_step, seeds, moves[:, period:], [n, n], warmup=warmup_steps((n - 1.0) / n)
    )
    ag = np.concatenate(([seeds[0]], rest[0]))
    al = np.concatenate(([seeds[1]], rest[1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + ag / al)
    out[period:] = np.where(al == 0.0, 100.0, rsi)
    return out


def macd_hist_from_emas(ema_fast: FloatArray, ema_slow: FloatArray, signal: int) -> FloatArray:
    """MACD histogram from precomputed fast/slow EMAs, as :class:`MacdHist` computes it."""
    macd = ema_fast - ema_slow
    out = _nan_array(len(macd))
    ready = np.flatnonzero(~np.isnan(macd))
    if len(ready) == 0:
        return out
    start = int(ready[0])
    out[start:] = macd[start:] - ema_series(macd[start:], signal)
    return out


def macd_hist_series(close: FloatArray, fast: int, slow: int, signal: int) -> FloatArray:
    """MACD histogram of ``close`` exactly as :class:`MacdHist` computes it."""
    ema_fast, ema_slow = ema_series_many(close, [fast, slow])
    return macd_hist_from_emas(ema_fast, ema_slow, signal)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range per candle (first one = high - low), as :class:`Atr` computes it."""
    tr = high - low
    if len(tr) > 1:
        pc = close[:-1]
        h, lo = high[1:], low[1:]
        tr[1:] = np.maximum(np.maximum(tr[1:], np.abs(h - pc)), np.abs(lo - pc))
    return tr


def atr_series(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> FloatArray:
    """Wilder ATR with the same seed and steps as :class:`Atr`."""
    _check_period("ATR period", period)
    out = _nan_array(len(close))
    if len(close) < period:
        return out
    tr = true_range(high, low, close)
    seed = math.fsum(tr[:period].tolist()) / period
    out[period - 1] = seed
    n = float(period)
    out[period:] = run_recurrence(
        wilder_step, seed, tr[period:], n, warmup=warmup_steps((n - 1.0) / n)
    )
    return out


def rsi_atr_series(
    high: FloatArray, low: FloatArray, close: FloatArray, rsi_period: int, atr_period: int
) -> tuple[FloatArray, FloatArray]:
    """``rsi_series`` and ``atr_series`` at once: their three Wilder recurrences (gains,
    losses, true range) advance together, each with its own seed, inputs and steps."""
    _check_period("RSI period", rsi_period)
    _check_period("ATR period", atr_period)
    if len(close) < max(rsi_period + 2, atr_period + 1):
        return rsi_series(close, rsi_period), atr_series(high, low, close, atr_period)
    seeds, rows = wilder_inputs(high, low, close, rsi_period, atr_period)
    na, nb = len(rows[0]), len(rows[2])
    xs = np.empty((3, max(na, nb)), dtype=np.float64)  # the shorter rows padded at the end:
    for r, row in enumerate(rows):  # later inputs never change earlier states
        xs[r, : len(row)], xs[r, len(row) :] = row, row[-1]
    rp, ap = float(rsi_period), float(atr_period)
    warmup = max(warmup_steps((rp - 1.0) / rp), warmup_steps((ap - 1.0) / ap))
    rest = run_recurrences(wilder_step, seeds, xs, [rp, rp, ap], warmup=warmup)
    states = (rest[0, :na], rest[1, :na], rest[2, :nb])
    return rsi_atr_from(len(close), rsi_period, atr_period, seeds, states)


def wilder_inputs(
    high: FloatArray, low: FloatArray, close: FloatArray, rsi_period: int, atr_period: int
) -> tuple[list[float], list[FloatArray]]:
    """The seeds (gains, losses, true range) and the inputs after them of the RSI's and the
    ATR's three Wilder recurrences."""
    d = close[1:] - close[:-1]
    moves = np.stack([np.where(d > 0.0, d, 0.0), np.where(d < 0.0, -d, 0.0)])
    seeds = [math.fsum(row[:rsi_period].tolist()) / rsi_period for row in moves]
    tr = true_range(high, low, close)
    seeds.append(math.fsum(tr[:atr_period].tolist()) / atr_period)
    return seeds, [moves[0, rsi_period:], moves[1, rsi_period:], tr[atr_period:]]


def rsi_atr_from(
    n: int, rsi_period: int, atr_period: int, seeds: Sequence[float], states: Sequence[FloatArray]
) -> tuple[FloatArray, FloatArray]:
    """RSI and ATR series (length ``n``) from the seeds and states of ``wilder_inputs``'s
    three recurrences."""
    ag = np.concatenate(([seeds[0]], states[0]))
    al = np.concatenate(([seeds[1]], states[1]))
    atr = _nan_array(n)
    atr[atr_period - 1] = seeds[2]
    atr[atr_period:] = states[2]
    return rsi_from(n, rsi_period, ag, al), atr


def rsi_from(n: int, rsi_period: int, ag: FloatArray, al: FloatArray) -> FloatArray:
    """RSI series (length ``n``) from the average gains and losses from its seed on."""
    rsi = _nan_array(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + ag / al)
    rsi[rsi_period:] = np.where(al == 0.0, 100.0, value)
    return rsi
