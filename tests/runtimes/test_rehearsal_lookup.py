"""Lookup hands out each candle's features exactly as ``features_at`` reads them."""

from __future__ import annotations

import math

import numpy as np

from optiflow.domain.market import Candle, Features
from optiflow.marketdata.features import features_at
from optiflow.runtimes.rehearsal_clock import Lookup


def _feats(n: int) -> Features:
    """Feature arrays of ``n`` candles: random values, NaN while warming up."""
    rng = np.random.default_rng(7)
    cols = []
    for _ in Features._fields[1:]:
        col = rng.normal(100.0, 5.0, n)
        col[: rng.integers(0, 40)] = np.nan
        cols.append(col)
    return Features(np.arange(n, dtype=np.int64) * 60_000, *cols)


def _same(a: Features, b: Features) -> bool:
    """Equal field by field (NaN equal to NaN), with the same types."""
    return all(
        type(x) is type(y) and (x == y or (math.isnan(x) and math.isnan(y)))
        for x, y in zip(a, b, strict=True)
    )


def test_rows_in_order_across_chunks_and_after_jumps_match_features_at() -> None:
    """In order over 2,500 candles (three chunks), then back and forward: each row as read."""
    n = 2_500
    feats = _feats(n)
    lk = Lookup(feats)
    rows = [*range(n), 5, 6, 2_400, 1_023, 1_024, 0]
    for i in rows:
        got = lk.update(Candle(i * 60_000, 1.0, 1.0, 1.0, 1.0, 1.0))
        assert isinstance(got, Features) and _same(got, features_at(feats, i)), i
        assert got.ts == i * 60_000
