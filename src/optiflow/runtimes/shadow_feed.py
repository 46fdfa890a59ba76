"""Feeds the engine's shadow book in the bar-loop runtimes (backtest feeds, replay).

Blocked signals wait in the book (lazy mode) and are applied here in (close time, symbol)
order; before a signal of a symbol is applied, that symbol's open shadow is played over
every candle up to the signal's, skipping candles its trigger band holds (exact: the
band is a superset of what the ladder acts on). The fast backtest feed also hands over the
1+1 signals that market filters blocked (it never shows those candles to the engine);
their stake is read when they are applied, between the same engine state changes the
every-candle feed sees them at. Both feeds therefore give the same shadow outcomes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from optiflow.decisions import ladder
from optiflow.engine.bot import Bot
from optiflow.engine.settings import EngineSettings
from optiflow.engine.shadows import ShadowBook
from optiflow.filters.market import MARKET_REASONS, market_blocks
from optiflow.runtimes.bar_loop import AlignedData
from optiflow.signals.oneplusone import groups

Key = tuple[int, int]  # (bar, symbol index)
END: Key = (1 << 62, 0)


class ShadowFeed:
    """Per symbol, the last candle its shadow was played through, and queued signals."""

    def __init__(self, data: AlignedData) -> None:
        """Start before the first candle of ``data``."""
        self.d = data
        self.played = [-1] * len(data.symbols)
        self.index = {s: i for i, s in enumerate(data.symbols)}
        tf = data.timeframe_ms
        self.bar_at = {ts + tf: b for b, ts in enumerate(data.ts.tolist())}  # close -> bar
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        for i in range(len(data.symbols)):
            ok = (data.rows[i] >= 0) & (np.asarray(data.volume[i]) > 0)
            self.lo.append(np.where(ok, np.asarray(data.prices[1][i]), np.nan))
            self.hi.append(np.where(ok, np.asarray(data.prices[2][i]), np.nan))
        # market-blocked 1+1 signals (fast feed): (bar, symbol index, reasons), in order
        self.market: list[tuple[int, int, tuple[str, ...]]] = []
        self.mi = 0
        # per symbol: (open shadow's position, the first bar from which it can act)
        self.ahead: dict[int, tuple[object, int]] = {}

    def resume_at(self, t: int) -> None:
        """Continue from bar ``t`` (a restored replay: every earlier candle was played)."""
        self.played = [t - 1] * len(self.played)

    def before(self, bot: Bot, t: int, i: int) -> None:
        """Apply every signal before (bar ``t``, symbol ``i``); play symbol i through bar t."""
        book = bot.shadows
        if book is None:
            return
        book.lazy = True
        if book.pending or self.mi < len(self.market):
            self._flush(bot, book, (t, i))
        if i >= 0:
            self.advance(book, i, t)

    def _flush(self, bot: Bot, book: ShadowBook, limit: Key) -> None:
        tf, d, bar_at = self.d.timeframe_ms, self.d, self.bar_at
        items: list[tuple[int, int, tuple[str, ...], Decimal | None]] = []
        keep = []
        for sig in book.pending:
            i = self.index[sig[1]]
            bar = bar_at[sig[0]]
            if (bar, i) < limit:
                items.append((bar, i, sig[2], sig[3]))
            else:
                keep.append(sig)
        book.pending = keep
        while self.mi < len(self.market) and self.market[self.mi][:2] < limit:
            bar, i, reasons = self.market[self.mi]
            items.append((bar, i, reasons, None))
            self.mi += 1
        if not items:
            return
        items.sort(key=lambda x: (x[0], x[1]))
        for bar, i, reasons, stake in items:
            self.advance(book, i, bar)
            book.apply(
                d.symbols[i],
                int(d.ts[bar]) + tf,
                reasons,
                bot.shadow_stake() if stake is None else stake,
                float(d.prices[3][i][bar]),
            )

    def advance(self, book: ShadowBook, i: int, t: int) -> None:
        """Play symbol ``i``'s open shadow over its candles up to bar ``t`` included."""
        d, sym = self.d, self.d.symbols[i]
        start = self.played[i] + 1
        self.played[i] = max(self.played[i], t)
        tf, T = d.timeframe_ms, len(d.ts)
        while start <= t and sym in book.open:
            pos = book.open[sym].pos
            known = self.ahead.get(i)
            if known is None or known[0] is not pos:
                lower, upper, deadline = ladder.triggers(pos, int(d.ts[start]))
                stop = T
                if deadline is not None:
                    stop = min(stop, max(start, int(np.searchsorted(d.ts, deadline - tf + 1))))
                known = self.ahead[i] = (
                    pos,
                    _first_cross(self.lo[i], self.hi[i], start, stop, lower, upper),
                )
            b = known[1]
            if b > t:
                return
            if b < T and d.rows[i][b] >= 0 and d.volume[i][b] > 0.0:
                book.play_candle(
                    sym,
                    int(d.ts[b]),
                    tf,
                    float(d.prices[0][i][b]),
                    float(d.prices[2][i][b]),
                    float(d.prices[1][i][b]),
                    float(d.prices[3][i][b]),
                )
            self.ahead.pop(i, None)
            start = b + 1

    def settle(self, bot: Bot, t: int) -> None:
        """Apply every signal of bar ``t`` and before (the end of an every-candle step)."""
        if bot.shadows is not None and (bot.shadows.pending or self.mi < len(self.market)):
            self._flush(bot, bot.shadows, (t + 1, -1))

    def finish(self, bot: Bot) -> None:
        """End of data: apply what is left, play every shadow to the end, close the rest."""
        book = bot.shadows
        if book is None:
            return
        self._flush(bot, book, END)
        d = self.d
        last = len(d.ts) - 1
        for i in range(len(d.symbols)):
            self.advance(book, i, last)
        if book.open and len(d.ts):
            end = int(d.ts[-1]) + d.timeframe_ms - 1
            closes = {s: d.last_close[i] for i, s in enumerate(d.symbols)}
            book.close_all(end, closes, "end_of_data")


def _first_cross(
    lo: np.ndarray, hi: np.ndarray, start: int, stop: int, lower: float, upper: float
) -> int:
    """First candle in [start, stop) whose low <= lower or high >= upper, else ``stop``."""
    n, chunk = start, 64
    while n < stop:
        e = min(stop, n + chunk)
        hit = np.flatnonzero((lo[n:e] <= lower) | (hi[n:e] >= upper))
        if len(hit):
            return n + int(hit[0])
        n, chunk = e, chunk * 4
    return stop


def market_signals(
    s: EngineSettings, feats: list[Any], ts: np.ndarray, spread_pct: float
) -> list[tuple[int, int, tuple[str, ...]]]:
    """The 1+1 signals market filters block, as (bar, symbol index, reasons), in order.

    Uses the functions the engine calls per candle (``groups``, ``market_blocks``).
    """
    out: list[tuple[int, int, tuple[str, ...]]] = []
    for i, f in enumerate(feats):
        n = len(f.ts)
        prim, conf = groups(s.signals, f, float("nan"))
        blocks = [
            np.broadcast_to(np.asarray(b, dtype=bool), (n,))
            for b in market_blocks(f, spread_pct, s.market_filters)
        ]
        if not blocks:
            continue
        hit = np.broadcast_to(prim & conf, (n,)) & np.logical_or.reduce(blocks)
        rows = np.flatnonzero(hit)
        bars = np.searchsorted(ts, np.asarray(f.ts)[rows]).tolist()
        cols = [b[rows].tolist() for b in blocks]
        for j, bar in enumerate(bars):
            reasons = tuple(r for r, c in zip(MARKET_REASONS, cols, strict=True) if c[j])
            out.append((int(bar), i, reasons))
    out.sort(key=lambda x: (x[0], x[1]))
    return out


def shadow_outcomes(book: ShadowBook | None) -> dict[str, Any]:
    """``shadow_outcomes`` and ``shadow_top_missed`` for a run's extras (none when off)."""
    if book is None:
        return {}
    return {"shadow_outcomes": book.report(), "shadow_top_missed": book.top_missed()}
