"""The rehearsal's simulated clock and its indicators computed once as arrays."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from optiflow.domain.market import Candle, Features
from optiflow.marketdata.features import features_at


class RehearsalClock:
    """Market time, set by the rehearsal as it plays each point; waits never block."""

    def __init__(self, start_ms: int) -> None:
        """Start at ``start_ms``."""
        self.t = start_ms

    def now_ms(self) -> int:
        """The time of the point being played."""
        return self.t

    def monotonic_s(self) -> float:
        """Seconds on a monotonic clock (durations only)."""
        return time.perf_counter()

    async def sleep_until(self, ts_ms: int) -> None:
        """The rehearsal moves time itself: nothing to wait for."""
        await asyncio.sleep(0)


class Lookup:
    """A pair's precomputed features, handed out candle by candle like a ``FeatureTracker``."""

    def __init__(self, feats: Any) -> None:
        """Hand out rows of ``feats`` (the pair's precomputed feature arrays)."""
        self.feats = feats

    def update(self, candle: Candle) -> Features:
        """The features of ``candle`` (computed with every candle before it)."""
        row = int(np.searchsorted(self.feats.ts, candle.ts))
        return features_at(self.feats, row)
