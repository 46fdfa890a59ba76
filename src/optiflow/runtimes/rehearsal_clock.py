"""The rehearsal's simulated clock, its indicators computed once as arrays, its candles."""

from __future__ import annotations

import asyncio
import functools
import gc
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec

import numpy as np

from optiflow.domain.market import BookTop, Candle, Features
from optiflow.engine.bot import Bot
from optiflow.marketdata.features import features_at
from optiflow.runtimes.bar_loop import AlignedData

Prices = tuple[float, float, float, float]
Band = tuple[float, float, int | None]
P = ParamSpec("P")
GC_YOUNG = 10_000  # container objects (net) allocated before a young collection, while playing
_playing: list[tuple[int, ...]] = []  # the collector's thresholds before the first one started


def fewer_gc_passes(play: Callable[P, Awaitable[None]]) -> Callable[P, Coroutine[Any, Any, None]]:
    """``play`` with the collector's young threshold raised to ``GC_YOUNG`` (restored after).

    A rehearsal makes many short-lived objects that die by reference count; at Python's
    default of 700 the collector ran ~170 times in a week of preset A for little gain
    (~6 % of the CPU). Cyclic garbage still starts a collection every ``GC_YOUNG`` objects,
    so memory stays bounded; nothing played depends on when it runs. The last run to end
    restores the thresholds and collects once (~30 ms), so what a run leaves behind does not
    outlive it (three bots one after another in one process kept ~27 MiB more without it).
    """

    @functools.wraps(play)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        old = _playing[0] if _playing else gc.get_threshold()
        if not _playing:
            gc.set_threshold(max(old[0], GC_YOUNG), *old[1:])
        _playing.append(old)
        try:
            await play(*args, **kwargs)
        finally:
            _playing.pop()
            if not _playing:
                gc.set_threshold(*old)
                gc.collect()  # what the skipped passes left (a next run starts clean)

    return run


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
        self.ts: list[int] = feats.ts.tolist()  # bisect on a list: no numpy call per candle
        self.row = 0  # the row handed out last (candles come in order: usually the next)
        # the float columns side by side: one row is one ``tolist`` (not one ``.item`` each)
        cols = list(feats[1:])
        plain = all(getattr(c, "dtype", None) == np.float64 for c in cols)
        self._rows = np.column_stack(cols) if plain and cols and len(self.ts) else None
        self._start = 0  # rows from here on as features, a thousand at a time (one ``tolist``)
        self._chunk: list[Features] = []

    def update(self, candle: Candle) -> Features:
        """The features of ``candle`` (computed with every candle before it)."""
        ts, row = self.ts, self.row + 1
        if not (row < len(ts) and ts[row] == candle.ts):
            row = bisect_left(ts, candle.ts)
        self.row = row
        if self._rows is None or row >= len(ts):
            return features_at(self.feats, row)
        start = self._start
        if not start <= row < start + len(self._chunk):
            rows, make = self._rows[row : row + 1024].tolist(), Features._make
            self._chunk = [make([t, *r]) for t, r in zip(ts[row : row + 1024], rows, strict=True)]
            self._start = start = row
        return self._chunk[row - start]


class Points:
    """The candles' points in time, and each candle's traded pairs with their four prices."""

    def __init__(self, al: AlignedData, traded: list[Any]) -> None:
        """Candles of ``al``; ``traded[i][t]``: pair ``i`` traded in candle ``t``."""
        self.al, self.traded = al, traded
        tf = al.timeframe_ms
        self.open_ts: list[int] = al.ts.tolist()
        self.offsets = (0, tf // 4, tf // 2, tf - 1)
        self._t = -1
        self._candle: tuple[list[int], list[Prices], set[str]] = ([], [], set())
        self._traded: list[list[bool]] | None = None
        self._prices: list[list[list[float]]] = []  # pair -> point -> candle
        self.named: list[str] = []  # the last ``candle``'s traded pairs by name, in order

    def ts(self, t: int, k: int) -> int:
        """The time of point ``k`` (open, low, high, close) of candle ``t``."""
        return self.open_ts[t] + self.offsets[k]

    def candle(self, t: int) -> tuple[list[int], list[Prices], set[str]]:
        """Candle ``t``: the pairs traded in it (indices), their prices, their names."""
        if self._t != t:
            d = self.al
            if self._traded is None:  # as Python lists once: no numpy scalar per candle
                self._traded = [np.asarray(tr).tolist() for tr in self.traded]
                self._prices = [
                    [np.asarray(d.prices[k][i], dtype=np.float64).tolist() for k in range(4)]
                    for i in range(len(d.symbols))
                ]
            moving = [i for i, tr in enumerate(self._traded) if tr[t]]
            p = self._prices
            prices = [(p[i][0][t], p[i][1][t], p[i][2][t], p[i][3][t]) for i in moving]
            self.named = [d.symbols[i] for i in moving]
            self._candle, self._t = (moving, prices, set(self.named)), t
        return self._candle

    def after(self, done: int) -> tuple[int, int]:
        """The first point (candle, k) after the point at time ``done``."""
        d = self.al
        if done < 0 or not len(d.ts):
            return 0, 0
        t = max(0, int(np.searchsorted(d.ts, done, side="right")) - 1)
        for k in range(4):
            if self.ts(t, k) > done:
                return t, k
        return t + 1, 0

    def end_ts(self) -> int:
        """The end of the data: the last candle's close time."""
        d = self.al
        return int(d.ts[-1]) + d.timeframe_ms - 1 if len(d.ts) else 0

    def quotes_before(self, t: int, k: int) -> tuple[dict[str, BookTop], set[str]]:
        """The market just before point (t, k): each pair's last price, and who trades now."""
        d, quotes = self.al, {}
        for i, sym in enumerate(d.symbols):
            if k > 0 and self.traded[i][t]:
                px = float(d.prices[k - 1][i][t])
                quotes[sym] = BookTop(self.ts(t, k - 1), px, px)
                continue
            hit = np.flatnonzero(self.traded[i][:t])
            if len(hit):
                b = int(hit[-1])
                px = float(d.prices[3][i][b])
                quotes[sym] = BookTop(self.ts(b, 3), px, px)
        trading = {
            sym for i, sym in enumerate(d.symbols) if k > 0 and t < len(d.ts) and self.traded[i][t]
        }
        return quotes, trading


class Bands:
    """``bot.triggers(symbol, ts)`` per pair, kept while its (frozen) position and deadline hold.

    A band is a function of the position and of whether ``ts`` passed the position's
    timeout; before the band's deadline (which comes no later than that timeout) it is the
    same at every time, so it is recomputed only for a new position or once the deadline is
    reached (times only grow within a run).
    """

    def __init__(self) -> None:
        """No band known yet."""
        self._kept: dict[str, tuple[object, Band]] = {}

    def get(self, bot: Bot, symbol: str, ts: int) -> Band | None:
        """The band of ``symbol``'s position at ``ts`` (None: no position)."""
        pos = bot.positions.get(symbol)
        hit = self._kept.get(symbol)
        if hit is not None and hit[0] is pos and (hit[1][2] is None or ts < hit[1][2]):
            return hit[1]
        band = bot.triggers(symbol, ts)
        if band is not None:
            self._kept[symbol] = (pos, band)
        return band
