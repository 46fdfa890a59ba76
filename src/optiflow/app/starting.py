"""Getting a live runtime going and its websocket prices flowing, whatever the exchange does.

``start_when_reachable`` retries the start-up (markets, warm-up candles, reconciliation)
with doubling waits while the exchange does not answer, tells the user once, and ends at
once when a stop is requested. ``consume_prices`` feeds pushed prices to the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from optiflow.config.models import BotConfig
from optiflow.domain.errors import RetryableError
from optiflow.domain.events import Notify
from optiflow.engine.bot import Bot
from optiflow.ports.clock import Clock
from optiflow.ports.feed import PriceFeed, PriceQuote
from optiflow.ports.notifier import Notifier

log = logging.getLogger("optiflow.runtime")


class Startable(Protocol):
    """What starting needs of a runtime."""

    cfg: BotConfig
    clock: Clock
    notifier: Notifier
    stop_requested: bool
    start_retry_max_s: float
    retry_sleep: Callable[[float], Awaitable[None]]
    bot: Bot | None

    async def start(self) -> None: ...

    async def on_price(self, quote: PriceQuote) -> None: ...


async def start_when_reachable(rt: Startable) -> bool:
    """``rt.start()`` retried with back-off while the exchange is silent; False if stopped."""
    wait, told = 1.0, False
    while not rt.stop_requested:
        try:
            await rt.start()
        except RetryableError as exc:
            log.warning("the exchange does not answer (%s); retrying in %.0f s", exc, wait)
            if not told:
                told = True
                rt.notifier.notify(
                    Notify(
                        "start_waiting",
                        "",
                        f"⏳ {rt.cfg.name}: the exchange does not answer ({exc}); "
                        "starting as soon as it does",
                        rt.clock.now_ms(),
                    )
                )
            await pause(rt, wait)
            wait = min(wait * 2, rt.start_retry_max_s)
            continue
        if told:
            log.info("the exchange answers again: started")
        return True
    return False


async def pause(rt: Startable, seconds: float) -> None:
    """Sleep in short slices so a stop request ends the wait at once."""
    left = seconds
    while left > 0 and not rt.stop_requested:
        await rt.retry_sleep(min(0.2, left))
        left -= 0.2


async def consume_prices(rt: Startable, feed: PriceFeed) -> None:
    """Hand every pushed price of a symbol with an open position to the runtime."""
    async for quote in feed:
        if rt.stop_requested:
            return
        if rt.bot is not None and quote.symbol in rt.bot.positions:
            await rt.on_price(quote)


async def stop_prices(feed: PriceFeed, task: asyncio.Task[None]) -> None:
    """Close the feed; let an exit already under way complete."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(feed.close(), 10)
    try:
        await asyncio.wait_for(task, 10)
    except (asyncio.CancelledError, TimeoutError):
        pass
    except Exception:
        log.exception("websocket price consumer failed")
