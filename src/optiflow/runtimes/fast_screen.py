"""The fast feed's entry candidates and their screening, in the order the engine sees them.

A candidate is a closed candle on which 1+1 passed and no market filter blocks
(``bulk_stats.candidate_mask``). Between two state changes of the bot the account filters
are pure functions of time, so a run of candidates is screened at once
(``engine/screen.py``); the common case, where only the capacity filter can block (no
cooldown, rate, pause, balance or notional can act over the run), costs a few lookups in
per-symbol prefix counts instead of a pass over the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from optiflow.engine.bot import Bot
from optiflow.engine.screen import NearBatch, Values, flush_near, screen_candidates, screen_few
from optiflow.engine.shadows import SignalBatch
from optiflow.runtimes.threshold_screen import Tally, screen_thresholds, settle_thresholds

_FEW = 4  # up to this many candidates are screened one by one (numpy costs more)
# queued near-miss batches per kept near miss before they are flushed (each flush builds
# the latest batches until ``near_miss_keep`` are found, whatever the queue's length)
_FLUSH = 64


class Candidates:
    """Candidates sorted by (bar, symbol): their bar, symbol index, row and close time."""

    __slots__ = (
        "at", "bar", "count", "defer", "first", "floor", "floors", "now", "rich", "row", "spans",
        "sym", "tally",
    )  # fmt: skip

    def __init__(
        self,
        bot: Bot,
        bars: int,
        bar: np.ndarray,
        sym: np.ndarray,
        row: np.ndarray,
        now: np.ndarray,
    ) -> None:
        """Index the candidates of ``bot`` on a timeline of ``bars`` bars (arrays of equal
        length, in the engine's order)."""
        self.bar, self.sym, self.row, self.now = bar, sym, row, now
        # with ``defer``, the capacity screen's counts are added by ``settle`` (run's end):
        # the [start, stop) spans it blocked, two appends instead of per-symbol counting
        self.defer = False
        self.spans: tuple[list[int], list[int]] = ([], [])
        # the threshold screens' counts, always added by ``settle`` (at the run's end)
        self.tally = Tally()
        n = len(sym)
        kind = np.int32 if n < 2**31 - 1 else np.int64  # half the memory
        # at[b]: the first candidate of bar b or later (b = 0 .. bars)
        self.at = np.searchsorted(bar, np.arange(bars + 1), side="left").astype(kind)
        idx = np.arange(n, dtype=kind)
        self.count: list[np.ndarray] = []  # per symbol: its candidates before index j
        self.first: list[np.ndarray] = []  # per symbol: its first candidate at or after j
        for i in range(len(bot.s.symbols)):
            mine = sym == i
            count = np.zeros(n + 1, kind)
            np.cumsum(mine, out=count[1:])
            self.count.append(count)
            first = np.full(n + 1, n, kind)
            first[:n] = np.where(mine, idx, n)
            self.first.append(np.minimum.accumulate(first[::-1])[::-1].copy())
        self.floors = [bot.order_floor(s) for s in bot.s.symbols]  # (fixed for a bot's life)
        # the largest order floor: at or above it, neither balance nor notional can block
        self.floor = max(self.floors, default=None)
        # a free balance from which the largest order surely reaches that floor (the exact
        # sizing is computed only below it): the stake is fixed and at least the floor
        stake = bot.s.stake_usdt
        self.rich = None
        if self.floor is not None and stake is not None and stake >= self.floor >= 0:
            self.rich = 2 * self.floor * (1 + max(bot.entry_cost_rate, Decimal(0)))

    def screen(
        self,
        bot: Bot,
        start: int,
        stop: int,
        values: Callable[[int], Values],
        spread: float,
        near: list[NearBatch],
    ) -> int:
        """Screen candidates [start, stop) in order; the first unblocked one, or ``stop``.

        Blocked ones are counted and their near misses queued in ``near`` exactly as the
        engine would record them.
        """
        if start >= stop:
            return stop
        if self._capacity_only(bot, start):
            return self._screen_capacity(bot, start, stop, values, spread, near)
        if bot.shadows is None:  # (the shadow book reads every blocked one: the general way)
            k = screen_thresholds(self, bot, start, stop, values, near)
            if len(near) >= _FLUSH * bot.s.near_miss_keep:
                flush_near(bot, near, spread)  # bounded memory: only the latest can be kept
            return k
        return _screen(bot, start, stop, self.sym, self.now, values, spread, near)

    def _capacity_only(self, bot: Bot, start: int) -> bool:
        """True when, from candidate ``start`` on, no account filter but capacity can block
        until the bot's state changes (close times only grow)."""
        s = bot.s
        if self.floor is None:
            return False
        last = bot.last_trade
        if (
            s.cooldown_s is not None
            and last
            and self.now.item(start) - max(last.values()) < s.cooldown_s * 1000
        ):  # (some now - last < gap)
            return False
        if s.rate_per_hour is not None and len(bot.rate.entries) >= s.rate_per_hour:
            return False
        paused = bot.blacklist.paused_until
        if paused and any(self.now.item(start) < until for until in paused.values()):
            return False
        free = bot.cash - bot.reserved
        if self.rich is not None and free >= self.rich:
            return True
        return not (free < self.floor or bot.max_order_value() < self.floor)

    def _screen_capacity(
        self,
        bot: Bot,
        start: int,
        stop: int,
        values: Callable[[int], Values],
        spread: float,
        near: list[NearBatch],
    ) -> int:
        """:meth:`screen` when only capacity can block: the candidates of busy symbols (all,
        when no slot is free) up to the first one of a free symbol."""
        s = bot.s
        k = stop
        positions, orders = bot.positions, bot.entry_orders
        if len(positions) + len(orders) < s.max_positions:  # bot.open_count()
            for i, sym in enumerate(s.symbols):
                if sym not in positions and sym not in orders:
                    first = self.first[i].item(start)
                    if first < k:
                        k = first
        if k == start:
            return k
        if self.defer:
            self.spans[0].append(start)
            self.spans[1].append(k)
        else:
            for i in range(len(s.symbols)):
                count = self.count[i]
                _count_capacity(bot, i, count.item(k) - count.item(start))
        if bot.shadows is not None:  # price 0: the lazy feed reads the close
            stake = bot.shadow_stake()
            idx, nows = self.sym[start:k], self.now[start:k]
            batch = SignalBatch(s.symbols, idx, nows, ("capacity",), (None,), stake)
            bot.shadows.block_batch(batch)
        keep = s.near_miss_keep
        if keep:  # kept as array views: only the latest batches are ever read (flush_near)
            lo = max(start, k - keep)
            near.append((self.now[lo:k], self.sym[lo:k], "capacity", range(lo, k), values))
            if len(near) >= _FLUSH * keep:
                flush_near(bot, near, spread)  # bounded memory: only the latest can be kept
        return k


    def settle(self, bot: Bot) -> None:
        """Add the deferred counts of the threshold and capacity screens to ``bot``'s counters."""
        settle_thresholds(self, bot, self.tally)
        self.tally = Tally()
        starts, stops = (np.array(x, dtype=np.int64) for x in self.spans)
        self.spans = ([], [])
        if len(starts):
            for i, count in enumerate(self.count):
                _count_capacity(bot, i, int(count[stops].sum() - count[starts].sum()))


def _count_capacity(bot: Bot, i: int, n: int) -> None:
    """Count ``n`` candidates of symbol ``i`` blocked by capacity alone (near misses)."""
    if n:
        c = bot.counters[bot.s.symbols[i]]
        c.candles += n
        c.primary += n
        c.confirming += n
        c.passes_1plus1 += n
        c.reject("capacity", n)
        c.near_miss_filter += n


def _screen(
    bot: Bot,
    start: int,
    stop: int,
    cand_sym: np.ndarray,
    cand_now: np.ndarray,
    values: Callable[[int], Values],
    spread: float,
    near: list[NearBatch] | None = None,
) -> int:
    """Screen candidates [start, stop) in growing chunks; the first unblocked one, or stop.

    Chunks keep the work linear: an entry usually comes early, so screening everything up
    to the next position event after every trade would be quadratic.
    """
    if start < stop and bot.open_count() < bot.s.max_positions:
        # the usual case after a position closes: the first candidate enters
        sym = bot.s.symbols[int(cand_sym[start])]
        if not bot.account_blocks(sym, int(cand_now[start])) and not (
            bot.max_order_value() < bot.order_floor(sym)
        ):
            return start
    # capacity full: nothing can enter before the next position event, screen all at once
    chunk = stop - start if bot.open_count() >= bot.s.max_positions else 32
    while start < stop:
        end = min(stop, start + chunk)

        def local(j: int, base: int = start) -> Values:
            return values(base + j)

        if near is not None and end - start <= _FEW:
            k = screen_few(bot, cand_sym[start:end], cand_now[start:end], local, near)
        else:
            k = screen_candidates(
                bot, cand_sym[start:end], cand_now[start:end], local, spread, near
            )
        if near is not None and len(near) >= 4 * bot.s.near_miss_keep:
            flush_near(bot, near, spread)  # bounded memory: only the latest can be kept
        if start + k < end:
            return start + k
        start, chunk = end, chunk * 4
    return stop
