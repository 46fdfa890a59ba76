"""Candles of one symbol as column arrays, plus pure aggregation and gap reporting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optiflow.domain.market import Candle

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CandleArrays:
    """Candles of one symbol as read-only column arrays; ``ts`` is the open time in ms (UTC)."""

    symbol: str
    timeframe_ms: int
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __post_init__(self) -> None:
        """Freeze the arrays too, so the dataclass is immutable all the way down."""
        for arr in (self.ts, self.open, self.high, self.low, self.close, self.volume):
            arr.flags.writeable = False

    def __len__(self) -> int:
        """Number of candles."""
        return len(self.ts)

    def candle(self, i: int) -> Candle:
        """The ``i``-th candle as a domain :class:`Candle` of Python scalars."""
        return Candle(
            int(self.ts[i]),
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )

    def take(self, start: int, stop: int) -> CandleArrays:
        """Rows ``start:stop`` as a new :class:`CandleArrays` (views, no copy)."""
        return CandleArrays(
            self.symbol,
            self.timeframe_ms,
            self.ts[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )


def resample(arrays: CandleArrays, timeframe_ms: int) -> CandleArrays:
    """Aggregate to a coarser timeframe, buckets aligned to UTC multiples of ``timeframe_ms``.

    Honest with gaps: a bucket is built from whichever source candles exist in it (so a
    bucket next to a gap, or the last one of the file, may cover less than its full span),
    and a bucket with no source candle is absent, never invented.
    """
    src = arrays.timeframe_ms
    if timeframe_ms <= 0 or timeframe_ms % src:
        raise ValueError(f"cannot resample {src} ms candles to {timeframe_ms} ms")
    if len(arrays) == 0:
        return arrays
    bucket = arrays.ts - arrays.ts % timeframe_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)] - 1
    return CandleArrays(
        arrays.symbol,
        timeframe_ms,
        bucket[starts],
        arrays.open[starts],
        np.maximum.reduceat(arrays.high, starts),
        np.minimum.reduceat(arrays.low, starts),
        arrays.close[ends],
        np.add.reduceat(arrays.volume, starts),
    )


def gap_report(arrays: CandleArrays) -> list[tuple[int, int]]:
    """Missing ranges as half-open ``(first missing open time, next present open time)``."""
    ts, tf = arrays.ts, arrays.timeframe_ms
    if len(ts) < 2:
        return []
    idx = np.flatnonzero(np.diff(ts) != tf)
    return [(int(ts[i]) + tf, int(ts[i + 1])) for i in idx]
