"""``Bot.rescan_blocked`` says True only where a rescan returns nothing and changes nothing."""

from __future__ import annotations

import copy
import random

import pytest

from optiflow.domain.events import CandleClosed
from optiflow.engine.bot import Bot
from tests.engine.screen_support import MIN, SPREAD, T0, candle_features, random_bot


def state(bot: Bot) -> object:
    """Everything a rescan could change, comparable."""
    return (
        dict(bot.orders), dict(bot.entry_orders), bot.reserved, bot.seq, dict(bot.last_trade),
        list(bot.rate.entries), dict(bot.blacklist.paused_until),
        {s: c.frozen() for s, c in bot.counters.items()}, bot.near_misses.latest(),
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(200))
def test_rescan_blocked_only_where_the_engine_does_nothing(seed: int) -> None:
    """Random account states: wherever ``rescan_blocked`` is True, the rescan event returns
    no command and leaves the state as it was; and it is True for some states."""
    rng = random.Random(seed)
    bot = random_bot(rng, traded=0.6, paused=0.2, cash=("400", "140", "60", "40"))
    sym = rng.choice(bot.s.symbols)
    opened = T0 - MIN + rng.randint(-3, 3) * MIN
    now = opened + bot.s.timeframe_ms
    blocked = bot.rescan_blocked(sym, now)
    before = state(bot)
    shown = copy.deepcopy(bot)
    out = shown.handle(CandleClosed(sym, candle_features(opened), SPREAD, rescan=True))
    if blocked:
        assert out == []
        assert state(shown) == before
    bot.trace = []  # a traced decision is always shown
    assert not bot.rescan_blocked(sym, now)
