"""Near misses handed to each commit: every new one exactly once, as the log keeps them."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from optiflow.domain.results import NearMiss
from optiflow.engine.bot import Bot
from optiflow.portfolio.stats import NearMissLog
from optiflow.runtimes.decision_log import new_near_misses


def reference(log: NearMissLog, seen: list[int]) -> tuple[NearMiss, ...]:
    """The definition: the kept near misses newer than the latest one stored."""
    fresh = tuple(n for n in log.latest() if n.ts > seen[0])
    if fresh:
        seen[0] = max(n.ts for n in log.latest())
    return fresh


def later(vals: Any) -> Callable[[], Any]:
    """Values given lazily, as the fast feed records them."""
    return lambda: vals


def test_fresh_near_misses_match_the_definition_through_appends_and_trims() -> None:
    """Random bursts (some over ``keep``, some trimming the log): same answers as the definition."""
    rng = random.Random(5)
    for keep in (0, 1, 3, 8):
        log = NearMissLog(keep=keep, order={"BTC/USDT": 0, "ETH/USDT": 1})
        bot = cast(Bot, SimpleNamespace(near_misses=log))
        seen: list[int] = [-1]
        ref_seen: list[int] = [-1]
        ts = 0
        for _ in range(300):
            for _ in range(rng.choice((0, 0, 1, 2, 5, 12))):
                ts += rng.choice((0, 1, 60))
                sym = rng.choice(("BTC/USDT", "ETH/USDT"))
                kind = rng.choice(("filter", "one_group"))
                vals: Any = [("rsi", float(ts))]
                log.add_lazy(ts, sym, kind, "rsi", later(vals) if ts % 2 else vals)
            got = new_near_misses(bot, seen)
            assert got == reference(log, ref_seen)
            assert seen[0] == ref_seen[0]


def test_a_trimmed_log_computes_the_values_of_the_fresh_near_misses_only() -> None:
    """After a trim (a new list), only the near misses handed over have their values computed."""
    log = NearMissLog(keep=4, order={"BTC/USDT": 0})
    bot = cast(Bot, SimpleNamespace(near_misses=log))
    computed: list[int] = []

    def counted(ts: int) -> Callable[[], Any]:
        def values() -> Any:
            computed.append(ts)
            return (("rsi", float(ts)),)

        return values

    seen: list[int] = [-1]
    for ts in range(1, 9):
        log.add_lazy(ts, "BTC/USDT", "filter", "rsi", counted(ts))
    assert [n.ts for n in new_near_misses(bot, seen)] == [5, 6, 7, 8]
    computed.clear()
    before = log.items
    for ts in range(9, 40):  # past 8 x keep: the log is trimmed into a new list
        log.add_lazy(ts, "BTC/USDT", "one_group", "no_primary", counted(ts))
    assert log.items is not before
    got = new_near_misses(bot, seen)
    assert [n.ts for n in got] == [36, 37, 38, 39]
    assert sorted(computed) == [36, 37, 38, 39]  # not the older kept ones (5-8)
