"""Sliding-window sums, maxima and medians over numpy arrays, reproducible one window at a time.

Window sums use one fixed summation tree: the window length is split into power-of-two
blocks (largest first), each block is summed pairwise (adjacent pairs, then pairs of
pairs), and the block sums are added left to right. :func:`tree_sum` does it for one
window (live path); :func:`window_sums` does it for every window at once with a handful of
vectorised additions (batch path). Both perform the same additions, so they agree bit for
bit, and the pairwise tree keeps the rounding error tiny.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from optiflow.marketdata.recurrence import FloatArray

_MEDIAN_CHUNK = 1024  # windows sorted per numpy call (0.5 MB: the working set stays in cache)


def _blocks(window: int) -> list[int]:
    """Power-of-two block lengths of ``window``, largest first (its binary digits)."""
    return [1 << k for k in range(window.bit_length() - 1, -1, -1) if window >> k & 1]


def tree_sum(values: list[float]) -> float:
    """Sum one window with the fixed tree that :func:`window_sums` uses."""
    total = 0.0
    first = True
    start = 0
    for size in _blocks(len(values)):
        level = values[start : start + size]
        start += size
        while len(level) > 1:
            level = [level[i] + level[i + 1] for i in range(0, len(level), 2)]
        if first:
            total, first = level[0], False
        else:
            total = total + level[0]
    return total


def window_sums(x: FloatArray, window: int) -> FloatArray:
    """Tree sums of every window ``x[i : i + window]``; length ``len(x) - window + 1``."""
    count = len(x) - window + 1
    if count <= 0:
        return np.empty(0, dtype=np.float64)
    levels: list[FloatArray] = [x]
    size = 1
    while size * 2 <= window:
        prev = levels[-1]
        levels.append(prev[:-size] + prev[size:])
        size *= 2
    total: FloatArray | None = None
    start = 0
    for size in _blocks(window):
        part = levels[size.bit_length() - 1][start : start + count]
        start += size
        total = part.copy() if total is None else total + part
    assert total is not None
    return total


def window_max(x: FloatArray, window: int) -> FloatArray:
    """Max of every window ``x[i : i + window]`` (exact; by doubling, any order gives the same)."""
    count = len(x) - window + 1
    if count <= 0:
        return np.empty(0, dtype=np.float64)
    m = x
    size = 1
    while size * 2 <= window:
        m = np.maximum(m[:-size], m[size:])
        size *= 2
    return np.maximum(m[:count], m[window - size : window - size + count])


def window_median(x: FloatArray, window: int) -> FloatArray:
    """Median of every window ``x[i : i + window]`` with ``np.median`` semantics."""
    view = sliding_window_view(x, window)
    out = np.empty(len(view), dtype=np.float64)
    for s in range(0, len(view), _MEDIAN_CHUNK):
        out[s : s + _MEDIAN_CHUNK] = _middles(np.sort(view[s : s + _MEDIAN_CHUNK], axis=1))
    return out


def _middles(part: FloatArray) -> FloatArray:
    """The median of each row of ``part`` (rows sorted): its middle, or its two middles' mean."""
    w = part.shape[1]
    k = w // 2
    return part[:, k] if w % 2 else (part[:, k - 1] + part[:, k]) / 2.0


class MedianColumn:
    """``rolling_median_series(x, window)`` placed ``offset`` rows later, one row at a time
    on demand (``item``, as ``ndarray.item``): the same sort and the same arithmetic as
    :func:`window_median`, so the same values, for a column of which few rows are read."""

    __slots__ = ("known", "offset", "window", "x")

    def __init__(
        self, x: FloatArray, window: int, offset: int = 0, known: FloatArray | None = None
    ) -> None:
        """Column of ``len(x) + offset`` rows; rows before a full window are NaN.
        ``known``: rows already computed (:meth:`at`), NaN where not: read from there."""
        self.x, self.window, self.offset, self.known = x, window, offset, known

    def at(self, rows: npt.NDArray[np.intp]) -> FloatArray:
        """The whole column as an array holding the rows ``rows`` (sorted, in range) and NaN
        elsewhere: :func:`window_median` of just those windows (the same sort per window)."""
        w = self.window
        out = np.full(len(self), math.nan)
        j = rows - self.offset
        j = j[(j >= w - 1) & (j < len(self.x))]  # the rest: before a full window, NaN
        x = self.x
        # no sign bit set (volumes, ATRs): the int64 bit patterns sort as the floats do
        # (NaNs last), faster; the same values land in the middles
        as_int = x.dtype == np.float64 and x.flags.c_contiguous and not np.signbit(x).any()
        view = sliding_window_view(x.view(np.int64) if as_int else x, w)
        for s in range(0, len(j), _MEDIAN_CHUNK):
            sel = j[s : s + _MEDIAN_CHUNK]
            part = view[sel - (w - 1)]  # (a copy: fancy indexing)
            part.sort(axis=1)  # what np.sort does, without a second copy
            sorted_: FloatArray = part.view(np.float64)  # (a view: the floats again)
            out[sel + self.offset] = _middles(sorted_)
        return out

    def __len__(self) -> int:
        """Number of rows."""
        return len(self.x) + self.offset

    def item(self, i: int) -> float:
        """Row ``i`` as a Python float."""
        if self.known is not None and i >= 0:
            v: float = self.known.item(i)
            if v == v:  # (NaN: not computed, or NaN indeed: computed again below)
                return v
        x, j, w = self.x, i - self.offset, self.window
        if not 0 <= j < len(x):
            if 0 <= i < len(x) + self.offset:
                return math.nan  # a row before the column's data starts
            raise IndexError(f"row {i} out of {len(self)}")
        if j < w - 1:
            return math.nan
        part = x[j - w + 1 : j + 1].copy()
        part.sort()  # what np.sort does, without its wrapper
        k = w // 2  # Python floats: the same IEEE-754 sum and halving as numpy's float64
        return part.item(k) if w % 2 else (part.item(k - 1) + part.item(k)) / 2.0
