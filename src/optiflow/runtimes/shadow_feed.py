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

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from optiflow.decisions import ladder
from optiflow.engine.bot import Bot
from optiflow.engine.settings import EngineSettings
from optiflow.engine.shadows import ShadowBook, Signal, SignalBatch
from optiflow.filters.market import MARKET_REASONS, market_blocks
from optiflow.runtimes.bar_loop import AlignedData
from optiflow.runtimes.bulk_stats import first_cross
from optiflow.signals.oneplusone import groups

Key = tuple[int, int]  # (bar, symbol index)
SMALL = 32  # fewer signals than this go through plain lists (numpy costs more on a few)
END: Key = (1 << 40, 0)


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
        # market-blocked 1+1 signals (fast feed), in (bar, symbol index) order
        self.market = MarketSignals.empty()
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
        if book.pending or self.mi < len(self.market.keys):
            self._flush(bot, book, (t, i))
        if i >= 0:
            self.advance(book, i, t)

    def _flush(self, bot: Bot, book: ShadowBook, limit: Key) -> None:
        """Apply the signals before ``limit`` in (bar, symbol) order, as ``book.apply`` would
        one by one: every signal is counted (in bulk); a signal whose symbol's shadow is
        still open, and cannot act before the signal's candle, is skipped without any work.
        Few signals go through plain lists, many through numpy arrays.
        """
        S = len(self.d.symbols) + 1
        lim = limit[0] * S + limit[1] + 1
        parts = _Parts()
        singles = parts.items
        if book.pending:
            keep: list[Signal | SignalBatch] = []
            bar_at, index = self.bar_at, self.index
            for p in book.pending:
                if isinstance(p, SignalBatch) and len(p.nows) >= SMALL:
                    parts.spill()
                    rest = self._batch(parts, p, S, lim)
                    if rest is not None:
                        keep.append(rest)
                    continue
                for sig in p.signals() if isinstance(p, SignalBatch) else (p,):
                    key = bar_at[sig[0]] * S + index[sig[1]] + 1
                    if key < lim:
                        singles.append((key, parts.rid(sig[2]), parts.sid(sig[3])))
                    else:
                        keep.append(sig)
            book.pending = keep
        m = self.market
        if self.mi < len(m.keys):
            hi = int(np.searchsorted(m.keys, lim, side="left"))
            if hi > self.mi:
                lo, self.mi = self.mi, hi
                rid = [parts.rid(r) for r in m.reasons]
                if hi - lo < SMALL:
                    got = zip(m.keys[lo:hi].tolist(), m.masks[lo:hi].tolist(), strict=True)
                    singles += [(key, rid[mk], 0) for key, mk in got]
                else:
                    parts.spill()
                    remap = np.array(rid, np.int64)
                    parts.add(m.keys[lo:hi], remap[m.masks[lo:hi]], 0, ordered=True)
        if parts.keys:
            parts.spill()
            keys_a, rids_a, sids_a, ordered = parts.joined()
            counts = np.bincount(rids_a, minlength=len(parts.table)).tolist()
            if not ordered:
                order = np.argsort(keys_a, kind="stable")
                keys_a, rids_a, sids_a = keys_a[order], rids_a[order], sids_a[order]
            keys, rids, sids = keys_a.tolist(), rids_a.tolist(), sids_a.tolist()
        elif singles:
            counts = [0] * len(parts.table)
            for _, rid_, _ in singles:
                counts[rid_] += 1
            singles.sort(key=lambda x: x[0])
            keys = [k for k, _, _ in singles]
            rids = [r for _, r, _ in singles]
            sids = [st for _, _, st in singles]
        else:
            return
        for reasons, n in zip(parts.table, counts, strict=True):
            for reason in reasons if n else ():
                book.tally(reason, n)
        self._open(bot, book, keys, rids, sids, parts)

    def _batch(
        self, parts: _Parts, b: SignalBatch, S: int, lim: int
    ) -> SignalBatch | None:
        """Add the signals of ``b`` before ``lim`` to ``parts``; the rest (if any) waits."""
        tf = self.d.timeframe_ms
        bars = np.searchsorted(self.d.ts, np.asarray(b.nows, np.int64) - tf)
        to_feed = np.array([self.index[s] for s in b.symbols], np.int64)
        keys = bars.astype(np.int64) * S + to_feed[b.sym_idx] + 1
        now = keys < lim
        code = np.zeros(len(keys), np.int64)
        for bit, mk in enumerate(b.masks):
            code |= (1 if mk is None else np.asarray(mk, np.int64)) << bit
        combos = np.unique(code)
        remap = np.zeros(int(combos[-1]) + 1 if len(combos) else 1, np.int64)
        for c in combos.tolist():
            remap[c] = parts.rid(tuple(r for k, r in enumerate(b.reasons) if c >> k & 1))
        sid = parts.sid(b.stake)
        if now.all():
            parts.add(keys, remap[code], sid)
            return None
        parts.add(keys[now], remap[code[now]], sid)
        if not now.any():
            return b
        later = ~now
        masks = tuple(None if mk is None else np.asarray(mk)[later] for mk in b.masks)
        return SignalBatch(
            b.symbols, np.asarray(b.sym_idx)[later], np.asarray(b.nows)[later], b.reasons,
            masks, b.stake,
        )  # fmt: skip

    def _open(
        self,
        bot: Bot,
        book: ShadowBook,
        keys: list[int],
        rids: list[int],
        sids: list[int],
        parts: _Parts,
    ) -> None:
        """Open the shadows of the (counted) signals, in their order, where none is open."""
        d, tf, syms, opened = self.d, self.d.timeframe_ms, self.d.symbols, book.open
        closes, S = d.prices[3], len(syms) + 1
        skip = [0] * len(syms)  # per symbol: its open shadow cannot act before this bar
        for k, key in enumerate(keys):
            bar, i = divmod(key, S)
            i -= 1
            if bar < skip[i]:
                continue
            self.advance(book, i, bar)
            sym = syms[i]
            sh = opened.get(sym)
            if sh is not None:
                known = self.ahead.get(i)
                skip[i] = known[1] if known is not None and known[0] is sh.pos else bar + 1
                continue
            st = parts.stakes[sids[k]]
            if st is None:  # the bot's state does not change while flushing
                st = parts.stakes[0] = bot.shadow_stake()
            reasons = parts.table[rids[k]]
            book.open_shadow(sym, int(d.ts[bar]) + tf, reasons, st, float(closes[i][bar]))
            skip[i] = bar + 1

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
                    first_cross(self.lo[i], self.hi[i], start, stop, lower, upper),
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
        if bot.shadows is not None and (bot.shadows.pending or self.mi < len(self.market.keys)):
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


class _Parts:
    """The signals of one flush: key arrays with interned reasons and stakes."""

    def __init__(self) -> None:
        """Nothing yet; stake 0 is the bot's, read when a shadow opens."""
        self.table: list[tuple[str, ...]] = []
        self._ids: dict[tuple[str, ...], int] = {}
        self.stakes: list[Decimal | None] = [None]
        self.keys: list[np.ndarray] = []
        self.rids: list[np.ndarray] = []
        self.sids: list[np.ndarray] = []
        self.ordered = True
        self.items: list[tuple[int, int, int]] = []  # few signals: key, reasons id, stake id

    def rid(self, reasons: tuple[str, ...]) -> int:
        """The id of a reasons tuple."""
        got = self._ids.get(reasons)
        if got is None:
            got = self._ids[reasons] = len(self.table)
            self.table.append(reasons)
        return got

    def sid(self, stake: Decimal | None) -> int:
        """The id of a stake (None: the bot's, id 0)."""
        if stake is None:
            return 0
        self.stakes.append(stake)
        return len(self.stakes) - 1

    def add(
        self, keys: np.ndarray, rids: np.ndarray, sid: int | np.ndarray, ordered: bool = False
    ) -> None:
        """Append signals (``ordered``: these keys are sorted), all of stake ``sid`` or each
        of its own."""
        if not len(keys):
            return
        self.ordered = self.ordered and ordered and not self.keys
        self.keys.append(keys)
        self.rids.append(rids)
        self.sids.append(np.full(len(keys), sid, np.int64) if isinstance(sid, int) else sid)

    def spill(self) -> None:
        """Move the signals listed one by one (``items``: key, reasons id, stake id) to
        the arrays, keeping their order."""
        if self.items:
            self.add(
                np.array([k for k, _, _ in self.items], np.int64),
                np.array([r for _, r, _ in self.items], np.int64),
                np.array([st for _, _, st in self.items], np.int64),
            )
            self.items.clear()

    def joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Keys, reasons ids, stake ids, and whether the keys are already sorted."""
        if len(self.keys) == 1:
            return self.keys[0], self.rids[0], self.sids[0], self.ordered
        return (
            np.concatenate(self.keys),
            np.concatenate(self.rids),
            np.concatenate(self.sids),
            False,
        )


@dataclass(frozen=True, slots=True)
class MarketSignals:
    """Market-blocked 1+1 signals in (bar, symbol) order: ``keys`` = bar * (symbols + 1) +
    symbol + 1, and each one's reasons as a bit mask over ``MARKET_REASONS``."""

    keys: np.ndarray
    bars: np.ndarray
    syms: np.ndarray
    masks: np.ndarray
    reasons: tuple[tuple[str, ...], ...]  # per mask value

    @staticmethod
    def empty() -> MarketSignals:
        """No signals."""
        z = np.zeros(0, np.int64)
        return MarketSignals(z, z, z, z, _mask_reasons())


def _mask_reasons() -> tuple[tuple[str, ...], ...]:
    n = len(MARKET_REASONS)
    return tuple(
        tuple(r for b, r in enumerate(MARKET_REASONS) if m >> b & 1) for m in range(1 << n)
    )


def market_signals(
    s: EngineSettings, feats: list[Any], ts: np.ndarray, spread_pct: float
) -> MarketSignals:
    """The 1+1 signals market filters block, in (bar, symbol index) order.

    Uses the functions the engine calls per candle (``groups``, ``market_blocks``).
    """
    S = len(feats) + 1
    keys: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for i, f in enumerate(feats):
        n = len(f.ts)
        prim, conf = groups(s.signals, f, float("nan"))
        blocks = [
            np.broadcast_to(np.asarray(b, dtype=bool), (n,))
            for b in market_blocks(f, spread_pct, s.market_filters)
        ]
        if not blocks:
            continue
        mask = np.zeros(n, np.int64)
        for bit, b in enumerate(blocks):
            mask |= b.astype(np.int64) << bit
        rows = np.flatnonzero(np.broadcast_to(prim & conf, (n,)) & (mask != 0))
        bars = np.searchsorted(ts, np.asarray(f.ts)[rows]).astype(np.int64)
        keys.append(bars * S + i + 1)
        masks.append(mask[rows])
    if not keys:
        return MarketSignals.empty()
    k = np.concatenate(keys)
    order = np.argsort(k, kind="stable")
    k, m = k[order], np.concatenate(masks)[order]
    return MarketSignals(k, k // S, k % S - 1, m, _mask_reasons())


def shadow_outcomes(book: ShadowBook | None) -> dict[str, Any]:
    """``shadow_outcomes`` and ``shadow_top_missed`` for a run's extras (none when off)."""
    if book is None:
        return {}
    return {"shadow_outcomes": book.report(), "shadow_top_missed": book.top_missed()}
