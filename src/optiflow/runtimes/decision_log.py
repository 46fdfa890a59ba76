"""Per-symbol DEBUG log of every entry decision the engine traced (replay, paper, live)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from optiflow.config.models import BotConfig
from optiflow.domain.results import NearMiss
from optiflow.domain.timefmt import iso_utc
from optiflow.engine.bot import Bot
from optiflow.portfolio.stats import NearMissLog


def symbol_loggers(cfg: BotConfig) -> dict[str, logging.Logger]:
    """One logger per pair, ``optiflow.<bot>.<symbol>`` (routed to the symbol's log file)."""
    return {s: logging.getLogger(f"optiflow.{cfg.name}.{s}") for s in cfg.pairs}


def new_near_misses(bot: Bot, seen: list[int]) -> tuple[NearMiss, ...]:
    """Near misses recorded since the last call (``seen[0]``: the latest time stored)."""
    log = bot.near_misses
    items = log.items
    # the log only appends, or trims into a new list: same list, length and last time
    mark = [id(items), len(items), items[-1][0] if items else -1]
    if seen[1:] == mark:
        return ()  # nothing recorded since the last call (every commit asks)
    before = seen[1:]
    seen[1:] = mark
    if before and before[0] == mark[0] and before[1] < mark[1] and log.keep:
        # same list, appended to: every older item is at most seen[0] (see below), so the
        # fresh ones are among the new items (all kept unless a kind got ``keep`` or more)
        new = [it for it in items[before[1] :] if it[0] > seen[0]]
        if not new:
            return ()
        kinds = [it[3] for it in new]
        if all(kinds.count(k) < log.keep for k in set(kinds)):
            new.sort(key=lambda it: (it[0], it[1], it[3]))  # as ``latest`` orders ties
            seen[0] = new[-1][0]
            return tuple(
                NearMiss(ts, sym, kind, reason, v() if callable(v) else v)
                for ts, _, sym, kind, reason, v in new
            )
    if not items or max(it[0] for it in items) <= seen[0]:
        return ()
    # ``latest()`` of the items after seen[0] only: they are the tail of the time order, so
    # each kind's latest ``keep`` among them are its latest ``keep`` overall that are fresh
    # (the older items' values are not computed only to be dropped)
    after = NearMissLog(log.keep, log.order, [it for it in items if it[0] > seen[0]])
    fresh = tuple(after.latest())
    if fresh:  # the latest time of the whole log: nothing older is fresh again
        seen[0] = fresh[-1].ts
    return fresh


def log_decisions(bot: Bot, loggers: Mapping[str, logging.Logger]) -> None:
    """Per-symbol DEBUG lines for every signal and filter decision, with its values."""
    trace = bot.trace
    if not trace:
        return
    for sym, now, prim, conf, blocked, ev in trace:
        logger = loggers[sym]
        if logger.isEnabledFor(logging.DEBUG):
            f = ev.features
            verdict = (
                "ENTER"
                if prim and conf and not blocked
                else f"blocked by {','.join(blocked)}"
                if blocked
                else "no 1+1"
            )
            logger.debug(
                "%s %s close=%s primary=%s confirming=%s -> %s | ema %.6g/%.6g rsi %.4g "
                "macd_hist %.3g vol %.6g/med %.6g atr %.4g/med %.4g spread %.3g%%%s",
                iso_utc(now),
                sym,
                f.close,
                prim,
                conf,
                verdict,
                f.ema_fast,
                f.ema_slow,
                f.rsi,
                f.macd_hist,
                f.volume,
                f.vol_median,
                f.atr,
                f.atr_median,
                ev.spread_pct,
                " (reactive rescan)" if ev.rescan else "",
            )
    trace.clear()
