"""Walk-forward folds: consecutive test periods, each optimised only on the data before it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optiflow.domain.errors import UserInputError
from optiflow.domain.timefmt import iso_utc
from optiflow.marketdata.loaders import CandleArrays

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
MIN_SEGMENT_MS = DAY_MS  # each fold, and the first training period, spans at least a day


@dataclass(frozen=True, slots=True)
class Fold:
    """One fold: train on [train_from, test_from), test on [test_from, test_to)."""

    index: int  # 1-based
    train_from: int
    test_from: int
    test_to: int


def data_span(data: Mapping[str, CandleArrays]) -> tuple[int, int]:
    """[first open time, last open time + timeframe) over every symbol."""
    lo = min(int(a.ts[0]) for a in data.values())
    hi = max(int(a.ts[-1]) + a.timeframe_ms for a in data.values())
    return lo, hi


def plan_folds(start: int, end: int, k: int) -> list[Fold]:
    """K consecutive test folds after one training segment: the period cut in K+1 equal parts.

    Boundaries fall on whole hours so every searched timeframe's candles line up.
    """
    if k < 2:
        raise UserInputError(f"--walk-forward {k}: needs at least 2 folds (or 0 for none)")
    seg = (end - start) // (k + 1)
    if seg < MIN_SEGMENT_MS:
        days = (end - start) / DAY_MS
        raise UserInputError(
            f"--walk-forward {k}: the period {iso_utc(start)} → {iso_utc(end)} is {days:.1f} "
            f"days; {k} folds need at least {k + 1} days (one training part and {k} test "
            "folds of at least a day each): use fewer folds or a longer --from/--to"
        )
    cuts = [start + (seg * i // HOUR_MS) * HOUR_MS for i in range(k + 1)] + [end]
    return [Fold(i, start, cuts[i], cuts[i + 1]) for i in range(1, k + 1)]


def slice_data(
    data: Mapping[str, CandleArrays], ts_from: int, ts_to: int
) -> dict[str, CandleArrays]:
    """Every symbol's candles with open time in [ts_from, ts_to); symbols left empty are dropped."""
    out: dict[str, CandleArrays] = {}
    for sym, a in data.items():
        lo = int(np.searchsorted(a.ts, ts_from, side="left"))
        hi = int(np.searchsorted(a.ts, ts_to, side="left"))
        if hi > lo:
            out[sym] = a.take(lo, hi)
    return out


def guard_before(data: Mapping[str, CandleArrays], limit: int) -> int:
    """The last candle's open time; raises if any candle opens at or after ``limit`` (leak)."""
    last = max(int(a.ts[-1]) for a in data.values())
    if last >= limit:
        raise AssertionError(f"leak: a candle of {iso_utc(last)} reaches data before {limit}")
    return last
