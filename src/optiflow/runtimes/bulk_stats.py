"""Signal and filter counters over a whole history at once, and the first candle that
crosses a price band, for the fast backtest feed and its shadow feed.

Uses the very functions the engine calls per candle (``groups``, ``market_blocks``) on
arrays, so the counts over skipped candles equal what the engine would have counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from optiflow.domain.market import Features
from optiflow.domain.results import NearMiss
from optiflow.engine.settings import EngineSettings
from optiflow.filters.market import MARKET_REASONS, market_blocks
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.features import (
    FeatureCache,
    FeatureSpec,
    compute_features_many,
    features_at,
    with_medians_at,
)
from optiflow.portfolio.stats import SymbolCounters
from optiflow.signals.catalogue import signal_values, volume_spike
from optiflow.signals.oneplusone import groups


def _classify(s: EngineSettings, f: Any, spread_pct: float) -> tuple[Any, Any, list[Any]]:
    n = len(f.ts)
    prim, conf = groups(s.signals, f, float("nan"))
    blocks = [
        np.broadcast_to(np.asarray(b, dtype=bool), (n,))
        for b in market_blocks(f, spread_pct, s.market_filters)
    ]
    return np.broadcast_to(prim, (n,)), np.broadcast_to(conf, (n,)), blocks


def candidate_mask(s: EngineSettings, f: Features, spread_pct: float) -> np.ndarray:
    """Candles where the 1+1 rule passes and no market filter blocks: the engine decides."""
    prim, conf, blocks = _classify(s, f, spread_pct)
    ok = prim & conf
    for b in blocks:
        ok = ok & ~b
    return np.asarray(ok)


def bulk_counters(
    s: EngineSettings,
    symbol: str,
    f: Features,
    spread_pct: float,
    rows: np.ndarray,
    reads: Features | None = None,
) -> tuple[SymbolCounters, list[NearMiss]]:
    """Counters and the latest near misses (each kind) over the candles selected by ``rows``;
    the near misses' values read from ``reads`` (default ``f``)."""
    reads = f if reads is None else reads
    prim, conf, blocks = _classify(s, f, spread_pct)
    passes = prim & conf & rows
    nblocked = np.sum(np.stack(blocks), axis=0) if blocks else np.zeros(len(rows), int)
    c = SymbolCounters(
        candles=int(rows.sum()),
        primary=int((prim & rows).sum()),
        confirming=int((conf & rows).sum()),
        passes_1plus1=int(passes.sum()),
        near_miss_one_group=int(((prim ^ conf) & rows).sum()),
    )
    for reason, b in zip(MARKET_REASONS, blocks, strict=True):
        n = int((passes & b).sum())
        if n:
            c.reject(reason, n)
    near_rows = np.flatnonzero(passes & (nblocked == 1))
    c.near_miss_filter = len(near_rows)
    near: list[NearMiss] = []
    for row in near_rows[-s.near_miss_keep :].tolist() if s.near_miss_keep else []:
        fr = features_at(reads, row)
        reason = next(r for r, b in zip(MARKET_REASONS, blocks, strict=True) if b[row])
        near.append(
            NearMiss(
                int(fr.ts) + s.timeframe_ms,
                symbol,
                "filter",
                reason,
                signal_values(fr) + (("spread_pct", spread_pct),),
            )
        )
    keep = s.near_miss_keep
    for row in np.flatnonzero((prim ^ conf) & rows)[-keep:].tolist() if keep else []:
        fr = features_at(reads, row)
        near.append(
            NearMiss(
                int(fr.ts) + s.timeframe_ms,
                symbol,
                "one_group",
                "no_confirming" if prim[row] else "no_primary",
                signal_values(fr) + (("spread_pct", spread_pct),),
            )
        )
    return c, near


def fast_features(
    s: EngineSettings,
    arrays: Sequence[CandleArrays],
    spec: FeatureSpec,
    cache: FeatureCache | None = None,
) -> tuple[list[Any], list[Any]]:
    """The batch Features of each symbol, twice: as read row by row, and as the array
    filters read them (only the rows where 1+1 passes count there).

    Medians read by no signal are lazy: computed only for the rows read (the kept near
    misses) and, when a market filter reads them, for the rows where 1+1 passes, at once.
    """
    lazy = volume_spike not in s.signals.primary + s.signals.confirming
    feats: list[Any]
    if cache is None:
        feats = compute_features_many(arrays, spec, lazy)
    else:
        feats = [cache.get(a, spec, lazy) for a in arrays]
    mf = s.market_filters
    if not lazy or mf.volume_mult is None and mf.atr_mult is None:
        return feats, feats
    looks, reads = [], []
    for f in feats:
        prim, conf = groups(s.signals, f, float("nan"))
        passing = np.flatnonzero(np.broadcast_to(prim & conf, (len(np.asarray(f.ts)),)))
        look, read = with_medians_at(f, passing)
        looks.append(look)
        reads.append(read)
    return reads, looks


def first_cross(
    lo: np.ndarray, hi: np.ndarray, start: int, stop: int, lower: float, upper: float
) -> int:
    """First candle in [start, stop) whose low <= lower or high >= upper, else ``stop``."""
    n, chunk = start, 64
    while n < stop:
        e = min(stop, n + chunk)
        hit = (lo[n:e] <= lower) | (hi[n:e] >= upper)
        first = int(hit.argmax())
        if hit[first]:
            return n + first
        n, chunk = e, chunk * 4
    return stop
