"""Screen many entry candidates at once while the bot's state cannot change.

Between two state changes (an entry, a fill, an exit) the stateful filters are pure
functions of time: capacity and balance are constant, cooldown, rate and blacklist depend
only on the candle's close time. This evaluates them for a batch of candidates exactly as
``Bot._try_enter`` would one by one, counts the rejections, and returns the first candidate
that would not be blocked, which the caller then hands to ``Bot.handle`` as usual.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from optiflow.engine.bot import Bot
from optiflow.filters.timing import MS_PER_MIN

STATEFUL_REASONS = ("capacity", "cooldown", "rate", "blacklist", "balance", "notional")


def stateful_masks(bot: Bot, sym_idx: np.ndarray, nows: np.ndarray) -> list[np.ndarray]:
    """Blocking masks in ``STATEFUL_REASONS`` order for candidates (symbol index, close time)."""
    s, syms = bot.s, bot.s.symbols
    n = len(nows)
    busy = np.array([sym in bot.positions or sym in bot.entry_orders for sym in syms])
    capacity = busy[sym_idx] | (bot.open_count() >= s.max_positions)
    nows_f = nows.astype(np.float64)
    if s.cooldown_s is None:
        cooldown = np.zeros(n, bool)
    else:
        last = np.array([float(bot.last_trade.get(sym, np.nan)) for sym in syms])[sym_idx]
        cooldown = (nows_f - last) < s.cooldown_s * 1000
    if s.rate_per_hour is None:
        rate = np.zeros(n, bool)
    else:
        entries = np.array(sorted(bot.rate.entries), dtype=np.int64)
        inside = len(entries) - np.searchsorted(entries, nows - 60 * MS_PER_MIN, side="right")
        rate = inside >= s.rate_per_hour
    until = np.array([float(bot.blacklist.paused_until.get(sym, -np.inf)) for sym in syms])
    blacklist = nows_f < until[sym_idx]
    floors = [max(s.min_order_usdt, bot.limits[sym].min_notional) for sym in syms]
    free = bot.cash - bot.reserved
    balance = np.array([free < f for f in floors])[sym_idx]
    others = capacity | cooldown | rate | blacklist | balance
    # notional is judged only when nothing else blocks (as in Bot._try_enter); here only the
    # sure case: even the largest affordable order is under the floor, whatever the price
    cap = bot.max_order_value()
    notional = np.array([cap < f for f in floors])[sym_idx] & ~others
    return [capacity, cooldown, rate, blacklist, balance, notional]


def screen_candidates(
    bot: Bot,
    sym_idx: np.ndarray,
    nows: np.ndarray,
    values: Callable[[int], tuple[tuple[str, float], ...]],
    spread_pct: float,
) -> int:
    """Count the rejections of the leading blocked candidates; return the first unblocked one.

    ``sym_idx``/``nows`` list candidates that passed 1+1 and every market filter, in the
    order the engine would see them. ``values(j)`` gives candidate j's near-miss values.
    """
    n = len(nows)
    if n == 0:
        return 0
    # only the reasons that block some candidate matter (most filters block none or all)
    active = [
        (r, m)
        for r, m in zip(STATEFUL_REASONS, stateful_masks(bot, sym_idx, nows), strict=True)
        if m.any()
    ]
    if not active:
        return 0
    any_block = active[0][1] if len(active) == 1 else np.logical_or.reduce([m for _, m in active])
    k = n if any_block.all() else int(any_block.argmin())  # the first candidate not blocked
    if k == 0:
        return 0
    head = [(r, m[:k]) for r, m in active]
    idx = sym_idx[:k]
    syms = bot.s.symbols
    nsym = len(syms)
    totals = np.bincount(idx, minlength=nsym).tolist()
    if len(head) == 1:
        nblocked = None
        singles = totals
    else:
        nblocked = head[0][1].astype(np.int64)
        for _, m in head[1:]:
            nblocked += m
        singles = np.bincount(idx[nblocked == 1], minlength=nsym).tolist()
    per_reason = [(r, np.bincount(idx[m], minlength=nsym).tolist()) for r, m in head]
    for i, sym in enumerate(syms):
        count = totals[i]
        if not count:
            continue
        c = bot.counters[sym]
        c.candles += count
        c.primary += count
        c.confirming += count
        c.passes_1plus1 += count
        for reason, counts in per_reason:
            if counts[i]:
                c.reject(reason, counts[i])
        c.near_miss_filter += singles[i]
    keep = bot.s.near_miss_keep
    if not keep:
        return k
    single = np.arange(k) if nblocked is None else np.flatnonzero(nblocked == 1)
    last = single[-keep:]
    if nblocked is None:
        reasons = [head[0][0]] * len(last)
    else:
        which = np.stack([m[last] for _, m in head]).argmax(axis=0).tolist()
        reasons = [head[w][0] for w in which]
    extra = (("spread_pct", spread_pct),)
    bot.near_misses.add_many_lazy(
        [
            (
                ts,
                syms[si],
                "filter",
                reason,
                lambda j=j: values(j) + extra,  # type: ignore[misc]
            )
            for j, ts, si, reason in zip(
                last.tolist(), nows[last].tolist(), sym_idx[last].tolist(), reasons, strict=True
            )
        ]
    )
    return k
