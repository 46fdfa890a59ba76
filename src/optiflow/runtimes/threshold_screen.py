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
from decimal import Decimal
from functools import partial
from typing import Protocol

import numpy as np

from optiflow.engine.bot import Bot
from optiflow.engine.screen import NearBatch, NearRows, Values
from optiflow.filters.timing import MS_PER_MIN


class Candidates(Protocol):
    """What is read of ``fast_screen.Candidates`` (sorted by close time)."""

    sym: np.ndarray  # symbol index of each candidate
    now: np.ndarray  # close time of each candidate (int64 ms)
    count: list[np.ndarray]  # per symbol: its candidates before index j
    first: list[np.ndarray]  # per symbol: its first candidate at or after j
    floors: list[Decimal]  # per symbol: the smallest order allowed
    rich: Decimal | None  # a free balance from which every order reaches its floor
    tally: Tally  # screens whose counts wait for ``settle_thresholds``


# per symbol: the filters blocking all its candidates, the notional's sure case and the
# thresholds (cooldown, rate, blacklist)
Plan = tuple[tuple[str, ...], bool, tuple[int, int, int]]

_NONE = np.iinfo(np.int64).min  # a threshold that blocks nothing
_TIMED = ("cooldown", "rate", "blacklist")
_IDLE: Plan = ((), False, (_NONE, _NONE, _NONE))  # a symbol with no candidate


def screen_thresholds(
    cands: Candidates,
    bot: Bot,
    start: int,
    stop: int,
    values: Callable[[int], Values],
    near: list[NearBatch],
) -> int:
    """Screen candidates [start, stop) (shadow book off); the first unblocked, or ``stop``.

    Tallies the screen in ``cands.tally`` (``settle_thresholds`` adds its counts, as the
    general screen makes them) and queues its near misses (lazily) as the general screen.
    """
    s, syms = bot.s, bot.s.symbols
    positions, orders = bot.positions, bot.entry_orders
    full = len(positions) + len(orders) >= s.max_positions
    free = bot.cash - bot.reserved
    # (notional is judged only with a slot; from ``rich`` on no order is too small)
    rich = cands.rich
    cap = None if full or (rich is not None and free >= rich) else bot.max_order_value()
    now0, find, first = cands.now.item(start), cands.now.searchsorted, cands.first
    # the time filters block while now < threshold (now, thresholds: int ms); a threshold
    # not after the first candidate's time blocks none of them, one after the last one's
    # blocks them all (its edge is then ``stop``: every edge is only read clipped to it)
    now1 = cands.now.item(stop - 1)
    last_trade = bot.last_trade if s.cooldown_s is not None else {}
    gap = 0 if s.cooldown_s is None else math.ceil(s.cooldown_s * 1000)  # now - last < gap
    rate = _NONE
    entries = bot.rate.entries
    if s.rate_per_hour is not None and len(entries) >= s.rate_per_hour:
        # at least rate_per_hour entries later than now - 1 h
        rate = sorted(entries)[len(entries) - s.rate_per_hour] + 60 * MS_PER_MIN
    rate_edge = start if rate <= now0 else stop if rate > now1 else int(find(rate))
    paused = bot.blacklist.paused_until
    k = stop
    # per symbol: the filters blocking all its candidates (in the engine's order), the
    # notional's sure case (only when nothing else blocks), thresholds, first candidates free
    plans: list[Plan | None] = []  # None: the symbol has no candidate in [start, stop)
    count_of = cands.count
    tally = cands.tally
    rows = tally.rows
    mark = len(rows)
    for i, sym in enumerate(syms):
        count = count_of[i]
        if count.item(stop) == count.item(start):
            plans.append(None)
            continue
        floor = cands.floors[i]
        busy = full or sym in positions or sym in orders
        bal = free < floor
        const: tuple[str, ...] = ("capacity", "balance") if busy and bal else \
            ("capacity",) if busy else ("balance",) if bal else ()  # fmt: skip
        small = cap is not None and cap < floor
        last = last_trade.get(sym)
        cool = _NONE if last is None else last + gap
        until = paused.get(sym)
        pause = _NONE if until is None else math.ceil(until)
        e0 = start if cool <= now0 else stop if cool > now1 else int(find(cool))
        e2 = start if pause <= now0 else stop if pause > now1 else int(find(pause))
        if not const and not small:  # free from the last edge on
            f = first[i].item(max(e0, rate_edge, e2))
            if f < k:
                k = f
        # its filters as bits: 1 capacity, 2 balance, 4 notional
        rows += (i, e0, e2, busy + 2 * bal + 4 * small)
        plans.append((const, small, (cool, rate, pause)))
    if k <= start:
        del rows[mark:]  # (nothing counted)
        return start
    # counted at the run's end, all screens at once (``settle_thresholds``)
    tally.screens += (start, k, rate_edge, (len(rows) - mark) >> 2)
    keep = s.near_miss_keep
    if keep:  # (a batch without a single-filter near miss builds to nothing)
        near.append(partial(_tail, cands, start, k, keep, plans, values))
    return k


def _tail(
    cands: Candidates,
    start: int,
    k: int,
    keep: int,
    plans: list[Plan | None],
    values: Callable[[int], Values],
) -> NearRows:
    """The last ``keep`` single-filter near misses of candidates [start, k) (queued as a
    ``partial``: built only when read)."""
    some = [_IDLE if p is None else p for p in plans]  # (None: no candidate read here)
    const = [p[0] for p in some]
    nconst = np.array([len(c) for c in const], dtype=np.int64)
    notional = np.array([p[1] and not p[0] for p in some])
    limits = np.array([p[2] for p in some], dtype=np.int64)  # cooldown, rate, blacklist
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


class Tally:
    """Threshold screens whose counts wait for :func:`settle_thresholds`, as flat ints."""

    __slots__ = ("rows", "screens")

    def __init__(self) -> None:
        """No screen yet."""
        self.screens: list[int] = []  # per screen: start, first unblocked, rate edge, rows
        self.rows: list[int] = []  # per symbol with candidates: index, cooldown and pause
        # edges, its filters as bits (1 capacity, 2 balance, 4 notional)


def settle_thresholds(cands: Candidates, bot: Bot, tally: Tally) -> None:
    """Add the counts of the screens in ``tally`` to ``bot``'s counters: exactly what the
    general screen (``engine/screen.py``) counts one candidate at a time, summed in numpy
    per symbol."""
    if not tally.screens:
        return
    screens = np.fromiter(tally.screens, np.int64, len(tally.screens)).reshape(-1, 4)
    table = np.fromiter(tally.rows, np.int64, len(tally.rows)).reshape(-1, 4)
    per = screens[:, 3]
    start_all, k_all, e1_all = (np.repeat(screens[:, j], per) for j in range(3))
    for i, sym in enumerate(bot.s.symbols):
        mine = table[:, 0] == i
        if not mine.any():
            continue
        _, e0, e2, code = table[mine].T
        start, k, e1 = start_all[mine], k_all[mine], e1_all[mine]
        cap, bal, small = code & 1, code >> 1 & 1, code >> 2
        nconst = cap + bal
        count = cands.count[i]
        c0, ck = count[start], count[k]
        tot = ck - c0
        q = np.minimum(np.stack((e0, e1, e2)), k)  # each edge clipped to k (all >= start)
        q.sort(axis=0)
        second, top = q[1], q[2]
        c = bot.counters[sym]
        n = int(tot.sum())
        c.candles += n
        c.primary += n
        c.confirming += n
        c.passes_1plus1 += n
        reasons = [("capacity", tot[cap == 1])]
        for reason, e in zip(_TIMED, (e0, e1, e2), strict=True):
            reasons.append((reason, count[np.minimum(e, k)] - c0))
        reasons.append(("balance", tot[bal == 1]))
        free = ck - count[top]  # blocked by no time filter
        notional = np.where((nconst == 0) & (small == 1), free, 0)
        reasons.append(("notional", notional))
        for reason, blocked in reasons:
            if m := int(blocked.sum()):
                c.reject(reason, m)
        singles = np.where(nconst == 1, free, 0)
        singles += np.where(nconst == 0, count[top] - count[second] + notional, 0)
        c.near_miss_filter += int(singles.sum())
