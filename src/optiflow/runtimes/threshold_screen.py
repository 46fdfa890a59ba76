"""Screen a run of entry candidates by thresholds: no pass over the candidates.

Between two state changes of the bot every account filter blocks a symbol's candidates
either all (capacity, balance, notional's sure case) or those closing before a time
(cooldown, rate, blacklist: ``now < threshold``). The candidates are sorted by close time,
so each time filter blocks a prefix of them, found by one ``searchsorted``; the first
unblocked candidate, the counts and the single-filter near misses follow from per-symbol
prefix counts (``fast_screen.Candidates``). Exactly what ``engine/screen.py`` counts (the
general screen, kept for the shadow book); the near misses are built only if kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from optiflow.engine.bot import Bot
from optiflow.engine.screen import NearBatch, NearRows, Values
from optiflow.filters.timing import MS_PER_MIN

if TYPE_CHECKING:
    from optiflow.runtimes.fast_screen import Candidates

_NONE = np.iinfo(np.int64).min  # a threshold that blocks nothing
_TIMED = ("cooldown", "rate", "blacklist")


def screen_thresholds(
    cands: Candidates,
    bot: Bot,
    start: int,
    stop: int,
    values: Callable[[int], Values],
    near: list[NearBatch],
) -> int:
    """Screen candidates [start, stop) (shadow book off); the first unblocked, or ``stop``.

    Counts the blocked ones and queues their near misses (lazily) as the general screen.
    """
    s, syms = bot.s, bot.s.symbols
    nsym = len(syms)
    positions, orders = bot.positions, bot.entry_orders
    full = len(positions) + len(orders) >= s.max_positions
    free = bot.cash - bot.reserved
    cap = bot.max_order_value()
    # per symbol: the filters blocking all its candidates, in the engine's order
    const: list[tuple[str, ...]] = []
    small: list[bool] = []  # notional's sure case (judged only when nothing else blocks)
    for sym in syms:
        floor = bot.order_floor(sym)
        busy = full or sym in positions or sym in orders
        bal = free < floor
        const.append(("capacity", "balance") if busy and bal else
                     ("capacity",) if busy else ("balance",) if bal else ())  # fmt: skip
        small.append(not full and cap < floor)
    # per symbol and time filter: block while now < threshold
    thr = [[_NONE] * 3 for _ in range(nsym)]
    if s.cooldown_s is not None and bot.last_trade:
        gap = math.ceil(s.cooldown_s * 1000)  # now - last < seconds * 1000 (now, last: ints)
        for i, sym in enumerate(syms):
            last = bot.last_trade.get(sym)
            if last is not None:
                thr[i][0] = last + gap
    entries = bot.rate.entries
    if s.rate_per_hour is not None and len(entries) >= s.rate_per_hour:
        # at least rate_per_hour entries later than now - 1 h
        at = sorted(entries)[len(entries) - s.rate_per_hour] + 60 * MS_PER_MIN
        for row in thr:
            row[1] = at
    paused = bot.blacklist.paused_until
    for i, sym in enumerate(syms):
        until = paused.get(sym)
        if until is not None:
            thr[i][2] = math.ceil(until)
    # blocked below these candidates (a threshold not after the first one blocks none)
    now0, find = cands.now.item(start), cands.now.searchsorted
    edge = [[start if t <= now0 else int(find(t)) for t in row] for row in thr]
    n = len(cands.now)
    k = stop
    if not full:
        for i in range(nsym):
            if not const[i] and not small[i]:
                f = cands.first[i].item(min(n, max(start, *edge[i])))
                if f < k:
                    k = f
    if k <= start:
        return start
    counters = bot.counters
    singles_any = False
    for i, sym in enumerate(syms):
        count = cands.count[i]
        c0 = count.item(start)
        tot = count.item(k) - c0
        if not tot:
            continue
        cut = [min(max(p, start), k) for p in edge[i]]
        c = counters[sym]
        c.candles += tot
        c.primary += tot
        c.confirming += tot
        c.passes_1plus1 += tot
        if "capacity" in const[i]:
            c.reject("capacity", tot)
        for reason, p in zip(_TIMED, cut, strict=True):
            if p > start and count.item(p) > c0:
                c.reject(reason, count.item(p) - c0)
        if "balance" in const[i]:
            c.reject("balance", tot)
        top = max(cut)
        singles = 0
        if len(const[i]) == 1:
            singles = count.item(k) - count.item(top)
        elif not const[i]:
            second = sorted(cut)[1]
            singles = count.item(top) - count.item(second)
            if small[i]:
                free_of_others = count.item(k) - count.item(top)
                if free_of_others:
                    c.reject("notional", free_of_others)
                    singles += free_of_others
        if singles:
            c.near_miss_filter += singles
            singles_any = True
    keep = s.near_miss_keep
    if keep and singles_any:
        near.append(_tail(cands, start, k, keep, const, small, thr, values))
    return k


def _tail(
    cands: Candidates,
    start: int,
    k: int,
    keep: int,
    const: list[tuple[str, ...]],
    small: list[bool],
    thr: list[list[int]],
    values: Callable[[int], Values],
) -> Callable[[], NearRows]:
    """The last ``keep`` single-filter near misses of candidates [start, k), built when read."""

    def build() -> NearRows:
        nconst = np.array([len(c) for c in const], dtype=np.int64)
        notional = np.array([small[i] and not const[i] for i in range(len(const))])
        limits = np.array(thr, dtype=np.int64)  # (symbol, cooldown/rate/blacklist)
        width = 4 * keep
        while True:
            a = max(start, k - width)
            idx, nows = cands.sym[a:k], cands.now[a:k]
            timed = nows[:, None] < limits[idx]
            blocks = nconst[idx] + timed.sum(axis=1)
            single = (blocks == 1) | (notional[idx] & (blocks == 0))
            where = np.flatnonzero(single)
            if len(where) >= keep or a == start:
                break
            width *= 4
        where = where[-keep:]
        reasons = []
        for j, si in zip(where.tolist(), idx[where].tolist(), strict=True):
            row = timed[j]
            if const[si]:
                reasons.append(const[si][0])
            elif row.any():
                reasons.append(_TIMED[int(row.argmax())])
            else:
                reasons.append("notional")
        return (nows[where].tolist(), idx[where].tolist(), reasons, (where + a).tolist(), values)

    return build
