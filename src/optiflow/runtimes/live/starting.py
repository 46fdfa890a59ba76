"""Running a live runtime: start-up through outages, the cycle loop, prices, state files.

``start_when_reachable`` retries the start-up (markets, warm-up candles, reconciliation)
with doubling waits while the exchange does not answer, tells the user once, and ends at
once when a stop is requested. ``consume_prices`` feeds pushed prices to the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from optiflow.adapters.files.exports import write_state_files
from optiflow.config.models import BotConfig
from optiflow.domain.errors import RetryableError
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow
from optiflow.engine.bot import Bot
from optiflow.ports.clock import Clock
from optiflow.ports.feed import PriceFeed, PriceQuote
from optiflow.ports.notifier import Notifier
from optiflow.runtimes.replay import positions_for_export

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


class Cycling(Startable, Protocol):
    """What the cycle loop needs of a runtime."""

    prices: PriceFeed | None
    cycles: int
    engine_lock: asyncio.Lock

    async def cycle(self) -> None: ...

    def commit(self) -> None: ...

    def write_files(self, force: bool = False) -> None: ...


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


async def run_cycles(
    rt: Cycling, max_cycles: int | None = None, on_cycle: Callable[[], None] | None = None
) -> None:
    """Start (recover), then cycle every ``interval_s`` until stopped; prices in between."""
    if not await start_when_reachable(rt):
        return
    consumer: asyncio.Task[None] | None = None
    if rt.prices is not None:
        try:
            await asyncio.wait_for(rt.prices.start(rt.cfg.pairs), 30)
            consumer = asyncio.create_task(consume_prices(rt, rt.prices), name="prices")
        except Exception as exc:  # noqa: BLE001 - no websocket: REST cycles carry on
            log.warning("websocket prices unavailable, REST polling only: %s", exc)
    interval = int(rt.cfg.interval_s * 1000)
    nxt = rt.clock.now_ms()
    try:
        while not rt.stop_requested and (max_cycles is None or rt.cycles < max_cycles):
            async with rt.engine_lock:
                await rt.cycle()
            if consumer is not None and consumer.done() and not consumer.cancelled():
                consumer.result()  # a failure while exiting on a websocket price
            if on_cycle is not None:
                on_cycle()
            nxt += interval
            await rt.clock.sleep_until(nxt)
    finally:
        if rt.prices is not None and consumer is not None:
            await stop_prices(rt.prices, consumer)
    rt.commit()
    rt.write_files(force=True)


class Filing(Protocol):
    """What the state files need of a live runtime."""

    cfg: BotConfig
    state_dir: Path
    exits: list[ExitRow]
    cycle_info: dict[str, dict[str, Any]]
    cycles: int
    prices: PriceFeed | None

    @property
    def mode(self) -> str: ...

    def _bot(self) -> Bot: ...


def write_live_files(rt: Filing) -> None:
    """Write the bot's state files (positions, exits, counters, per-symbol runtime)."""
    bot = rt._bot()
    write_state_files(
        rt.state_dir,
        positions=positions_for_export(bot),
        exits=rt.exits,
        stats={s: c.frozen() for s, c in bot.counters.items()},
        symbol_runtime=rt.cycle_info,
        info={
            "name": rt.cfg.name,
            "mode": rt.mode,
            "cash": str(bot.cash),
            "cycles": rt.cycles,
            "prices": "rest" if rt.prices is None or not rt.prices.connected else "websocket",
        },
    )
