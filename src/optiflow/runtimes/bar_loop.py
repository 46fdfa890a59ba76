"""Drives one ``Bot`` and the simulated exchange through candles, one bar at a time.

A candle is played as four prices: open (a jump from the previous close), low, high and
close (each swept continuously from the one before), so a candle touching both a stop and
a target resolves the stop first. The engine plays each sweep as the levels it crosses.
A reactive entry (after an exit) fills at the moment of the exit, see ``_buy``. Both
backtest feeds (every candle, or only candles that can matter) call the same
``process_bar``; they differ only in which bars they visit.

With tick data (``ticks``), a candle inside a capture is played as its real trades instead
(see ``tick_paths``), market orders fill at the book's ask/bid, and the candle's
``spread_pct`` is the book's at its close; the other candles are played as above.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.domain.events import (
    CancelOrder,
    CandleClosed,
    Command,
    Event,
    Notify,
    OrderFilled,
    OrderRejected,
    RequestScan,
    StopRequested,
    SubmitOrder,
    price_ticked,
)
from optiflow.domain.market import Features
from optiflow.engine.bot import Bot
from optiflow.marketdata.ticks import TickData
from optiflow.runtimes.tick_paths import PathPoint, candle_path, quote_at, spread_pct, trade_path

FeatureSource = Callable[[int, int], Features]  # (symbol index, row) -> features


@dataclass(slots=True)
class AlignedData:
    """Several symbols' candles on one shared timeline (row -1: no candle at that time)."""

    symbols: tuple[str, ...]
    ts: np.ndarray  # (T,) int64 candle open times
    rows: list[np.ndarray]  # per symbol (T,) int64 row in its own arrays, -1 if absent
    prev_rows: list[np.ndarray]  # per symbol (T,) row of the latest candle before t, or -1
    prices: list[list[np.ndarray]]  # [tick k][symbol] -> (T,) float64: open, low, high, close
    volume: list[np.ndarray]  # per symbol, (T,) float64 (0.0 where absent)
    last_close: list[float]  # per symbol
    timeframe_ms: int


def align(
    symbols: tuple[str, ...],
    columns: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    timeframe_ms: int,
) -> AlignedData:
    """Put per-symbol (ts, open, high, low, close, volume) arrays on their union timeline."""
    ts = _union([c[0] for c in columns])
    T = len(ts)
    rows, prev_rows, volume = [], [], []
    prices: list[list[np.ndarray]] = [[], [], [], []]
    last_close = []
    for sym_ts, o, h, lo, c, v in columns:
        dense = len(sym_ts) == T  # a candle at every time: rows are bars, no copy needed
        where = row = np.arange(T, dtype=np.int64)
        prev = row - 1  # the row of the latest candle before each bar
        if not dense:
            where = np.searchsorted(ts, sym_ts)
            row = np.full(T, -1, np.int64)
            row[where] = np.arange(len(sym_ts))
            prev[1:] = np.maximum.accumulate(row)[:-1]
        rows.append(row)
        prev_rows.append(prev)
        for k, col in enumerate((o, lo, h, c)):
            if dense:
                full = np.asarray(col, dtype=np.float64)
            else:
                full = np.full(T, np.nan)
                full[where] = col
            prices[k].append(full)
        if dense:
            vol = np.asarray(v, dtype=np.float64)
        else:
            vol = np.zeros(T)
            vol[where] = v
        volume.append(vol)
        last_close.append(float(c[-1]) if len(c) else float("nan"))
    return AlignedData(symbols, ts, rows, prev_rows, prices, volume, last_close, timeframe_ms)


def _union(times: list[np.ndarray]) -> np.ndarray:
    """Sorted union of sorted int64 time arrays (shared timelines cost no sort)."""
    if not times:
        return np.zeros(0, np.int64)
    first = np.asarray(times[0], dtype=np.int64)
    if all(len(t) == len(first) and np.array_equal(t, first) for t in times[1:]):
        return first
    merged = np.sort(np.concatenate(times), kind="stable")  # merges the sorted runs
    keep = np.empty(len(merged), bool)
    keep[:1] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


class ShadowHook(Protocol):
    """What the loop tells the shadow feed (``runtimes/shadow_feed.ShadowFeed``)."""

    def before(self, bot: Bot, t: int, i: int) -> None:
        """Bar ``t``'s prices (i = -1) or symbol i's close are next."""

    def settle(self, bot: Bot, t: int) -> None:
        """Every close of bar ``t`` is done."""

    def finish(self, bot: Bot) -> None:
        """The end of the data."""


@dataclass(slots=True)
class BarLoop:
    """Feeds bars to a bot and carries out its commands against the simulated exchange."""

    bot: Bot
    sim: SimExchange
    data: AlignedData
    features: FeatureSource
    spread_pct: float
    notifications: list[Notify] = field(default_factory=list)
    keep_notifications: int = 2000
    on_result: Callable[[OrderFilled | OrderRejected], None] | None = None
    ticks: list[TickData | None] | None = None  # per symbol; None: candles only
    close_spread: list[float] = field(default_factory=list)  # per symbol, with ticks
    # model the live cycle: an entry decided at a candle close fills at once at the next
    # candle's open, booked before the next pair's close is decided (see README, rehearsal)
    entries_at_once: bool = False
    # the latest exit (symbol, price before slippage, time): where a reactive entry fills
    _exit_at: tuple[str, float, int] | None = field(default=None, init=False)
    _rescanning: bool = field(default=False, init=False)
    _reentered_at: float | None = field(default=None, init=False)  # inside the current price
    _k: int | None = field(default=None, init=False)  # the candle path point being played
    shadows: ShadowHook | None = None  # plays the bot's shadow outcomes (shadow_feed.py)
    # per symbol and row: can a rescan of that candle act (1+1 and market filters pass)? The
    # fast feed shows no other rescan (it returns nothing, changes nothing); None: all shown
    rescan_rows: list[np.ndarray] | None = None
    row_ts: list[np.ndarray] | None = None  # per symbol, its rows' open times (see rescan)

    def process_bar(
        self,
        t: int,
        close_syms: list[int],
        on_close: Callable[[int, int], None] | None = None,
        skip_quiet: bool = False,
        quiet_known: Mapping[str, bool] | None = None,
    ) -> None:
        """Play bar ``t``: four prices per traded symbol, then the closes of ``close_syms``.

        With ``skip_quiet`` a position whose trigger band (as the bot states it) holds the
        whole candle gets no prices: the bot would have ignored every one of them; nor does
        one opened at the candle's open get the rest of the candle when its band holds it,
        nor any single price the bot says it ignores (``Bot.ignores_price``).
        ``quiet_known``: the caller's verdicts at ``t`` (True: the band holds the candle).
        """
        if self.shadows is not None:
            self.shadows.before(self.bot, t, -1)
        if self.ticks is not None:
            self._process_tick_bar(t, close_syms, on_close)
            return
        d, bot, sim = self.data, self.bot, self.sim
        ts0 = d.ts.item(t)
        tf, rows, volume = d.timeframe_ms, d.rows, d.volume
        offsets = (0, tf // 4, tf // 2, tf - 1)
        positions, entry_orders = bot.positions, bot.entry_orders
        quiet: set[str] = set()
        loud: set[str] = set()  # positions found not quiet (their state unchanged since)
        judged = quiet_known or {}
        for i, sym in enumerate(d.symbols if skip_quiet else ()):
            if sym in positions and sym not in entry_orders:
                q = judged.get(sym)
                (quiet if (self._quiet(sym, i, t) if q is None else q) else loud).add(sym)
        for k in range(4):
            self._k = k
            prices_k = d.prices[k]
            ts = ts0 + offsets[k]
            for i, sym in enumerate(d.symbols):
                if sym not in positions and sym not in entry_orders or sym in quiet:
                    continue
                if rows[i].item(t) < 0 or volume[i].item(t) <= 0.0:
                    continue  # no trade happened: nothing fills, nothing triggers
                price = prices_k[i].item(t)  # a Python float
                fresh = skip_quiet and sym not in entry_orders  # (else every price is played)
                ignored = fresh and bot.ignores_price(sym, ts, price)
                if ignored:  # the bot would return nothing, and only entries rest in the book
                    sim.last_price[sym] = price
                else:
                    known = fresh  # not ignored above, and nothing filled since: ask no more
                    if (k == 0 or k == 3) and sim.resting:  # (an empty book fills nothing)
                        for res in sim.on_price(sym, price, ts):
                            known = False
                            if self.on_result is not None:
                                self.on_result(res)
                            self.dispatch(bot.handle(res), t)
                    else:
                        sim.last_price[sym] = price
                    if known or not (skip_quiet and bot.ignores_price(sym, ts, price)):
                        swept = None if k == 0 else d.prices[k - 1][i].item(t)
                        self.play_price(sym, ts, price, swept, t)
                settle = k == 0 and skip_quiet and sym not in entry_orders  # (loud: unchanged)
                if settle and not (ignored and sym in loud) and self._quiet(sym, i, t):
                    quiet.add(sym)  # e.g. filled at the open, the band holds the candle
        self._k = None
        for i in close_syms:
            row = int(d.rows[i][t])
            if on_close is not None:
                on_close(i, row)
            ev = CandleClosed(d.symbols[i], self.features(i, row), self.spread_pct)
            if self.shadows is not None:
                self.shadows.before(bot, t, i)
            self.dispatch(bot.handle(ev), t)
        if self.shadows is not None and close_syms:
            self.shadows.settle(bot, t)

    def _quiet(self, sym: str, i: int, t: int) -> bool:
        """True when ``sym``'s trigger band (now) holds all of candle ``t``: nothing to do."""
        d = self.data
        if sym not in self.bot.positions:
            return False
        ts0 = d.ts.item(t)
        trig = self.bot.band(sym, ts0)
        return (
            trig[0] < d.prices[1][i].item(t)
            and d.prices[2][i].item(t) < trig[1]
            and (trig[2] is None or ts0 + d.timeframe_ms - 1 < trig[2])
        )

    def close(self, t: int, i: int) -> None:
        """Close symbol ``i``'s candle of bar ``t`` (the engine decides on it), prices done."""
        d = self.data
        ev = CandleClosed(d.symbols[i], self.features(i, d.rows[i].item(t)), self.spread_pct)
        if self.shadows is not None:
            self.shadows.before(self.bot, t, i)
        self.dispatch(self.bot.handle(ev), t)

    def _process_tick_bar(
        self, t: int, close_syms: list[int], on_close: Callable[[int, int], None] | None
    ) -> None:
        """Play bar ``t`` with tick data: real trades where covered, else four prices."""
        d, bot, sim = self.data, self.bot, self.sim
        assert self.ticks is not None
        ts0, tf = int(d.ts[t]), d.timeframe_ms
        covered: dict[int, TickData] = {}
        path: list[PathPoint] = []
        for i, sym in enumerate(d.symbols):
            tick = self.ticks[i]
            if d.rows[i][t] < 0:
                continue
            if tick is not None and tick.covers(ts0, ts0 + tf):
                covered[i] = tick
                path += trade_path(tick, i, ts0, ts0 + tf)
                continue
            if tick is not None:
                sim.clear_quote(sym)
            if d.volume[i][t] > 0.0:  # no trade happened: nothing fills, nothing triggers
                o, lo, hi, c = (float(d.prices[k][i][t]) for k in range(4))
                path += candle_path(i, ts0, tf, (o, lo, hi, c))
        path.sort(key=lambda p: (p.ts, p.symbol_index))
        for pt in path:
            sym = d.symbols[pt.symbol_index]
            if sym not in bot.positions and sym not in bot.entry_orders:
                continue
            if pt.quote is not None:
                sim.set_quote(sym, *pt.quote)
            if pt.fills:
                for res in sim.on_price(sym, pt.price, pt.ts):
                    if self.on_result is not None:
                        self.on_result(res)
                    self.dispatch(bot.handle(res), t)
            else:
                sim.last_price[sym] = pt.price
            self.play_price(sym, pt.ts, pt.price, pt.swept_from, t)
        for i in close_syms:
            row = int(d.rows[i][t])
            if on_close is not None:
                on_close(i, row)
            spread = self.spread_pct
            quote = quote_at(covered[i], ts0 + tf - 1) if i in covered else None
            if quote is not None:
                spread = spread_pct(quote)
                sim.set_quote(d.symbols[i], *quote)
            if self.close_spread:
                self.close_spread[i] = spread
            ev = CandleClosed(d.symbols[i], self.features(i, row), spread)
            if self.shadows is not None:
                self.shadows.before(bot, t, i)
            self.dispatch(bot.handle(ev), t)
        if self.shadows is not None and close_syms:
            self.shadows.settle(bot, t)

    def play_price(self, sym: str, ts: int, price: float, swept: float | None, t: int) -> None:
        """Show the bot one price of the path; a same-symbol reactive entry inside a sweep
        sees the rest of the sweep from where it entered (the exit's price)."""
        self._reentered_at = None
        self.dispatch(self.bot.handle(price_ticked(sym, ts, price, swept)), t)
        while self._reentered_at is not None:
            at, self._reentered_at = self._reentered_at, None
            if swept is not None and at != price:
                self.dispatch(self.bot.handle(price_ticked(sym, ts, price, at)), t)

    def dispatch(self, commands: list[Command], t: int) -> None:
        """Carry out the bot's commands (fills are fed back at once)."""
        for cmd in commands:
            if isinstance(cmd, SubmitOrder):
                if cmd.side == "buy":
                    self._buy(cmd, t)
                    continue
                res = self.sim.execute_now(
                    cmd.client_id, cmd.symbol, cmd.side, cmd.qty, cmd.ref_price, cmd.ts
                )
                at = (
                    cmd.ref_price if cmd.ref_price > 0 else self.sim.last_price.get(cmd.symbol, 0.0)
                )
                self._exit_at = (cmd.symbol, at, cmd.ts)
                self._result(res, t)
            elif isinstance(cmd, CancelOrder):
                self.sim.cancel(cmd.client_id)
            elif isinstance(cmd, RequestScan):
                self.rescan(t)
            elif len(self.notifications) < self.keep_notifications:
                self.notifications.append(cmd)

    def _result(self, res: OrderFilled | OrderRejected, t: int) -> None:
        if self.on_result is not None:
            self.on_result(res)
        self.dispatch(self.bot.handle(res), t)

    def _buy(self, cmd: SubmitOrder, t: int) -> None:
        """An entry order. A reactive one fills at once, at the moment of the exit: on the
        symbol just exited at the exit's price (at the ask when quoted), on another symbol of
        a candle path at that symbol's price at the same point of the path. Any other entry
        waits for the next price shown (a candle's open or close, or the next trade)."""
        at, d = self._exit_at, self.data
        price: float | None = None
        if self._rescanning and at is not None:
            if at[0] == cmd.symbol:
                price = 0.0 if cmd.symbol in self.sim.quotes else at[1]
            elif self._k is not None:
                i = d.symbols.index(cmd.symbol)
                if d.rows[i][t] >= 0 and d.volume[i][t] > 0.0:
                    price = float(d.prices[self._k][i][t])
        elif self.entries_at_once and self._k is None and t + 1 < len(d.ts):
            i = d.symbols.index(cmd.symbol)
            if d.rows[i][t + 1] >= 0 and d.volume[i][t + 1] > 0.0:
                res = self.sim.execute_now(
                    cmd.client_id, cmd.symbol, cmd.side, cmd.qty, float(d.prices[0][i][t + 1]),
                    int(d.ts[t + 1]),
                )  # fmt: skip
                self._result(res, t)
                return
        if price is None:
            self.sim.submit_market(cmd.client_id, cmd.symbol, cmd.side, cmd.qty)
            return
        assert at is not None
        res = self.sim.execute_now(cmd.client_id, cmd.symbol, cmd.side, cmd.qty, price, at[2])
        if isinstance(res, OrderFilled) and at[0] == cmd.symbol:
            self._reentered_at = at[1]
        self._result(res, t)

    def rescan(self, t: int) -> None:
        """Reactive entry: re-check the latest closed candle of every symbol."""
        d = self.data
        self._rescanning = True
        try:
            for i, sym in enumerate(d.symbols):
                row = -1 if self.bot.rescan_idle(sym) else d.prev_rows[i].item(t)  # -1: skip
                if row < 0 or self.rescan_rows is not None and not self.rescan_rows[i].item(row):
                    continue
                if self.row_ts is not None and self.bot.rescan_blocked(
                    sym, self.row_ts[i].item(row) + self.bot.s.timeframe_ms
                ):  # blocked by an account filter: nothing returned, nothing changed
                    continue
                spread = self.close_spread[i] if self.close_spread else self.spread_pct
                ev: Event = CandleClosed(sym, self.features(i, row), spread, rescan=True)
                self.dispatch(self.bot.handle(ev), t)
        finally:
            self._rescanning = False

    def finish(self, reason: str) -> None:
        """Close everything at each symbol's last close (end of data)."""
        d = self.data
        for i, sym in enumerate(d.symbols):
            self.sim.last_price[sym] = d.last_close[i]
        end = int(d.ts[-1]) + d.timeframe_ms - 1 if len(d.ts) else 0  # the last close
        if self.shadows is not None:
            self.shadows.finish(self.bot)
        self.dispatch(self.bot.handle(StopRequested(end, reason)), len(d.ts) - 1)
