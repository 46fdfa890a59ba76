"""A finished bot is freed by reference counting: it holds no reference cycle to itself."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable

from optiflow.config.models import BotConfig
from optiflow.domain.events import PriceTicked, StopRequested
from tests.engine.test_bot import MIN, SYM, T0, candle, fill, make_bot, orders


def test_a_bot_that_traded_is_freed_without_the_cyclic_collector(
    make_config: Callable[..., BotConfig],
) -> None:
    """With the collector off (as the fast backtest runs), dropping the last reference to a
    bot that entered, exited and stopped frees it at once (no cycle through its handlers)."""
    bot = make_bot(make_config())
    (entry,) = orders(candle(bot, T0))
    fill(bot, entry, 100.0, T0 + MIN)
    (exit_,) = orders(bot.handle(PriceTicked(SYM, T0 + 2 * MIN, 100.6)))
    fill(bot, exit_, 100.6, T0 + 2 * MIN)
    bot.handle(StopRequested(T0 + 3 * MIN, "shutdown"))
    assert len(bot.exits) == 1
    was = gc.isenabled()
    gc.disable()
    try:
        ref = weakref.ref(bot)
        del bot
        assert ref() is None
    finally:
        if was:
            gc.enable()
