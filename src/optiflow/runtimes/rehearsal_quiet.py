"""The rehearsal's quiet tests: what a commit would change since the last one, quiet sweeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optiflow.engine.bot import Bot
from optiflow.runtimes.rehearsal_clock import Bands, Points

Mark = tuple[Any, ...]


def state_mark(bot: Bot, protector: Any, guard: Any) -> Mark:
    """Copies of what a quiet cycle leaves unchanged (frozen values, compared by value)."""
    p = protector
    return (
        dict(bot.positions), dict(bot.entry_orders), bot.cash, bot.reserved,
        (dict(p.stops), dict(p.seq), dict(p.failed)) if p is not None else None,
        {s: list(cmds) for s, cmds in guard.deferred.items()},
    )  # fmt: skip


def unchanged(mark: Mark, bot: Bot, protector: Any, guard: Any) -> bool:
    """Whether nothing ``mark`` holds moved (compared with the live values, nothing copied)."""
    if not mark:
        return False
    p, deferred = protector, guard.deferred
    positions, entries, cash, reserved, stops, marked = mark
    return (
        bot.positions == positions and bot.entry_orders == entries and bot.cash == cash
        and bot.reserved == reserved
        and (stops is None if p is None else stops == (p.stops, p.seq, p.failed))
        and len(deferred) == len(marked)
        and all(marked.get(s) == list(c) for s, c in deferred.items())
    )  # fmt: skip


def quiet_sweeps(
    bot: Bot, bands: Bands, symbols: Sequence[str], t: int, points: Points
) -> list[str] | None:
    """The held pairs of candle ``t`` (of ``points``) if none of its sweeps can act, else None.

    A sweep can act only on a held pair that traded in it, and not while its price stays strictly
    inside the position's trigger band before the band's deadline (the band is the same at
    every time before it). The low, the high and the close inside the band, with the close's
    time before the deadline, is every sweep inside it. The caller checks that no order
    waits for a price (a waiting order fills at any traded price).
    """
    held: list[str] = []
    if not bot.positions:
        return held
    first_ts, last_ts = points.ts(t, 1), points.ts(t, 3)
    moving, prices, _ = points.candle(t)  # the traded pairs (indices), their four prices
    for i, pxs in zip(moving, prices, strict=True):
        sym = symbols[i]
        if sym not in bot.positions:
            continue
        band = bands.get(bot, sym, first_ts)
        if band is None or not (band[2] is None or last_ts < band[2]):
            return None
        lo, hi = band[0], band[1]
        if not (lo < pxs[1] < hi and lo < pxs[2] < hi and lo < pxs[3] < hi):
            return None
        held.append(sym)
    return held
