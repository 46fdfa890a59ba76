"""The rehearsal's quiet-cycle test: what a commit would change since the last one."""

from __future__ import annotations

from typing import Any

from optiflow.engine.bot import Bot

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
