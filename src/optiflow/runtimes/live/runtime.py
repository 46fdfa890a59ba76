"""Paper and live runtime: the same engine on live exchange data, every ``interval_s``.

Each cycle: refresh the best bid/ask and the closed candles of every pair, feed the price
to the engine (exits) and the new candles (entries), carry out its orders through the
``Executor`` (intent committed before each request), then commit the engine state with the
results. Starting is recovering: the last snapshot is loaded and reconciled with the
exchange (orders by client id, foreign orders with our prefix, balances, stops).

With a websocket ``PriceFeed`` the cycle stays the decision cadence, but between cycles
every pushed price of a symbol with an open position is fed to the engine at once, so
exits react to each websocket price; the cycle's REST book fetch remains the fallback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from optiflow.adapters.files.exposure import ExposureLedger
from optiflow.adapters.sim.exchange import sim_to_snapshot
from optiflow.adapters.sim.gateway import SimGateway
from optiflow.config.models import BotConfig
from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import (
    CancelOrder,
    CandleClosed,
    Command,
    Event,
    Notify,
    OrderRejected,
    RequestScan,
    SubmitOrder,
    candle_closed,
    price_ticked,
)
from optiflow.domain.market import BookTop, Candle, Features
from optiflow.domain.results import ExitRow
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config
from optiflow.engine.snapshot import TopMemo, to_snapshot
from optiflow.marketdata.features import FeatureTracker
from optiflow.ports.clock import Clock
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.feed import PriceFeed, PriceQuote
from optiflow.ports.notifier import Notifier
from optiflow.ports.store import FillRow, OrderRow, StateBatch, Store
from optiflow.runtimes.decision_log import log_decisions, new_near_misses, symbol_loggers
from optiflow.runtimes.live.executor import Executor
from optiflow.runtimes.live.exit_guard import ExitGuard
from optiflow.runtimes.live.protection import Protector
from optiflow.runtimes.live.reconcile import reconcile
from optiflow.runtimes.live.restoring import load_limits, restore_bot
from optiflow.runtimes.live.saving import Saver
from optiflow.runtimes.live.staleness import StaleWatch
from optiflow.runtimes.live.starting import run_cycles, write_live_files

log = logging.getLogger("optiflow.runtime")


class Tracker(Protocol):
    """Features of a pair's latest closed candle, given each closed candle in turn."""

    def update(self, candle: Candle) -> Features: ...


def spread_pct(book: BookTop) -> float:
    """(ask - bid) / mid in percent."""
    mid = (book.ask + book.bid) / 2
    return (book.ask - book.bid) / mid * 100 if mid > 0 else float("inf")


class LiveRuntime:
    """One bot on live data: paper (simulated fills) or live (real orders)."""

    def __init__(
        self,
        cfg: BotConfig,
        *,
        data: ExchangeGateway,
        orders: ExchangeGateway,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        state_dir: Path,
        mode: Literal["paper", "live", "rehearsal"],
        protect_stops: bool = False,
        warmup_candles: int = 150,
        files_every_s: float = 1.0,
        prices: PriceFeed | None = None,
    ) -> None:
        """Wire the ports; nothing touches the network before ``start``."""
        self.cfg, self.data, self.orders, self.store = cfg, data, orders, store
        self.notifier, self.clock, self.state_dir, self.mode = notifier, clock, state_dir, mode
        self.warmup, self.files_every_s = warmup_candles, files_every_s
        self.settings = settings_from_config(cfg)
        self.tf = self.settings.timeframe_ms
        self.trackers = {s: self._tracker(s) for s in cfg.pairs}
        self.last_ts: dict[str, int] = {}
        self.latest: dict[str, Features] = {}
        self.books: dict[str, BookTop] = {}
        self.bot: Bot | None = None
        self.executor = Executor(orders, self._commit_intent, clock.now_ms)
        self.protector = (
            Protector(
                orders, self._commit_intent, clock.now_ms, futures=cfg.exchange.market == "futures",
                retry_ms=self.settings.exit_retry_ms, retry_max_ms=self.settings.exit_retry_max_ms,
            )
            if protect_stops
            else None
        )  # fmt: skip
        self.guard = ExitGuard(
            executor=self.executor,
            protector=self.protector,
            gateway=orders,
            store=store,
            bot=self._bot,
            feed=self.feed,
            tell=self._tell,
            now_ms=clock.now_ms,
            price=self._bid,
            spot=cfg.exchange.market != "futures",
        )
        self.saver = Saver(store, notifier, cfg.name, clock.now_ms)
        self.exposure = ExposureLedger(state_dir, cfg.name)  # the fleet-wide cap, if any
        self.start_retry_max_s = cfg.safety.start_retry_max_s
        self.retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.notes: list[Notify] = []
        self.exits: list[ExitRow] = []
        self.errors: dict[str, int] = {s: 0 for s in cfg.pairs}
        self.cycle_info: dict[str, dict[str, Any]] = {
            s: {"errors": 0, "last_cycle_ts": None, "last_cycle_ms": None} for s in cfg.pairs
        }
        self.stop_requested = False
        self.loggers = symbol_loggers(cfg)
        self._near: list[int] = [-1]  # time of the latest near miss already stored
        self._top = TopMemo()  # the shadows' top list's data, kept while it is unchanged
        self.cycles = 0
        self._files_at = 0
        self.prices = prices
        self.ws_ticks = 0  # websocket prices fed to the engine between cycles
        self.engine_lock = asyncio.Lock()  # a cycle and a websocket price never interleave
        self.staleness = StaleWatch(self.tf)
        self.resume_candles = False  # rehearsal: warm up only to the saved last candle
        self.checkpoint_every = 10  # cycles between WAL checkpoints
        self.continuing: dict[str, str] = {}  # rehearsal: orders it carries on after a restart

    # ---- start-up: starting is recovering ------------------------------------------
    async def start(self) -> None:
        """Load markets, restore or create the bot, warm the indicators, reconcile."""
        self.trackers = {s: self._tracker(s) for s in self.cfg.pairs}
        self.last_ts, self.latest = {}, {}
        loaded = restore_bot(self, await load_limits(self))
        self._bot().trace = []
        now = self.clock.now_ms()
        # a rehearsal resumes exactly after the last candle its saved state decided on
        upto = loaded.snapshot.get("last_ts", {}) if loaded and self.resume_candles else {}
        for sym in self.cfg.pairs:
            candles = await self.data.fetch_closed_candles(
                sym, self.cfg.timeframe, now - (self.warmup + 2) * self.tf, self.warmup + 2
            )
            for c in candles:
                if self.resume_candles and c.ts > upto.get(sym, -1):
                    break
                self.latest[sym] = self.trackers[sym].update(c)
                self.last_ts[sym] = c.ts
        await self.reconcile(recovering=loaded is not None)
        self.commit()

    async def reconcile(self, recovering: bool) -> None:
        """Compare the store with the exchange; apply what happened, report the rest."""
        await reconcile(self, recovering)

    # ---- the cycle -------------------------------------------------------------------
    async def cycle(self) -> None:
        """One decision cycle over every pair.

        Every pair's book and closed candles are fetched first; then the candles that closed
        are decided on (entries fill at the current book), then the current price of each
        pair is shown to its position: a candle's close is decided before the price after it,
        as the backtest plays it.
        """
        clock, data, last_ts, tf = self.clock, self.data, self.last_ts, self.tf
        timeframe = self.cfg.timeframe
        now = clock.now_ms()
        sim = self.orders if isinstance(self.orders, SimGateway) else None
        fetched: list[tuple[str, BookTop, list[Candle], int]] = []
        for sym in self.cfg.pairs:
            t0 = clock.now_ms()
            try:
                book = await data.fetch_book_top(sym)
                candles = await data.fetch_closed_candles(
                    sym, timeframe, last_ts.get(sym, now - 10 * tf) + 1, 100
                )
            except (RetryableError, SkipError) as exc:
                self.cycle_info[sym]["errors"] += 1
                log.warning("%s: market data unavailable this cycle: %s", sym, exc)
                continue
            self.books[sym] = book
            if sim is not None:
                sim.set_quote(sym, book)
            fetched.append((sym, book, candles, t0))
        bot = self._bot()  # events are handed to it as ``feed`` does (no coroutine each)
        for sym, book, candles, _ in fetched:
            tracker = self.trackers[sym]
            for c in candles:
                if c.ts <= last_ts.get(sym, -1):
                    continue
                f = tracker.update(c)
                self.latest[sym], last_ts[sym] = f, c.ts
                if (shadows := bot.shadows) is not None and c.volume > 0:
                    shadows.play_candle(sym, c.ts, tf, c.open, c.high, c.low, c.close)
                if self.saver.failed is None:  # no new position while nothing can be saved
                    closed = candle_closed(sym, f, self._spread(book), False, book.imbalance)
                    if cmds := bot.handle(closed):
                        await self.run_commands(cmds)
        for sym, book, _, t0 in fetched:
            fresh = self._fresh(sym, book)
            if fresh and (cmds := bot.handle(price_ticked(sym, now, book.bid, None))):
                await self.run_commands(cmds)
            info = self.cycle_info[sym]
            info["last_cycle_ts"] = now
            if stale := self.staleness.check(sym, last_ts.get(sym), now, info):
                log.warning("%s", stale)
                self._note("stale_data", sym, stale)
            info["last_cycle_ms"] = clock.now_ms() - t0
        if self.executor.inflight:
            self.save_pending()  # a stop's answer is committed before the lookups
        for ev in await self.executor.poll():  # late and partial fills, late answers
            await self.feed(ev)
        # stops that filled or whose state was unknown, exits that waited, stops that follow
        await self.guard.cycle()
        log_decisions(self._bot(), self.loggers)
        self.cycles += 1
        self.commit()
        self.write_files()
        checkpoint = getattr(self.store, "checkpoint", None)
        if checkpoint is not None and self.cycles % self.checkpoint_every == 0:
            checkpoint()  # between cycles, never between a decision and its order

    async def feed(self, ev: Event) -> None:
        """Hand one event to the engine and carry out what it decides."""
        commands = self._bot().handle(ev)
        if commands:  # most events decide nothing: no frame to open and drain
            await self.run_commands(commands)

    async def run_commands(self, commands: list[Command]) -> None:
        """Carry out the engine's commands in order (fills are fed back at once)."""
        for cmd in commands:
            if isinstance(cmd, SubmitOrder) and cmd.side == "sell":
                await self.guard.sell(cmd)  # the stop first, the exit after, unknowns waited out
            elif isinstance(cmd, SubmitOrder):
                failed = self.saver.failed is not None
                why = "the store cannot save" if failed else self.exposure.refuse(cmd, self.bot)
                if why:  # a store that cannot save, or the fleet's exposure cap (fleet.json)
                    await self.feed(OrderRejected(cmd.client_id, cmd.symbol, why, cmd.ts))
                    continue
                for ev in await self.executor.submit(cmd):
                    await self.feed(ev)
                await self.guard.protect(cmd.symbol)
            elif isinstance(cmd, CancelOrder):
                self.save_pending()
                try:
                    await self.orders.cancel_order(cmd.symbol, cmd.client_id)
                except (RetryableError, SkipError) as exc:
                    log.warning("cancel %s failed: %s", cmd.client_id, exc)
            elif isinstance(cmd, RequestScan):
                for sym, f in self.latest.items():
                    book = self.books.get(sym)
                    if book is not None:
                        await self.feed(
                            CandleClosed(
                                sym, f, self._spread(book), rescan=True, ob_imbalance=book.imbalance
                            )
                        )
            elif isinstance(cmd, Notify):
                self.notes.append(cmd)
                self.notifier.notify(cmd)

    # ---- websocket prices between cycles -----------------------------------------------
    async def on_price(self, quote: PriceQuote) -> None:
        """Feed one pushed price of a symbol with an open position to the engine (exits)."""
        async with self.engine_lock:
            bot = self._bot()
            if quote.symbol not in bot.positions:
                return
            now = self.clock.now_ms()  # our clock, not the feed's, times every event
            book = BookTop(now, quote.book.bid, quote.book.ask)
            self.books[quote.symbol] = book
            if isinstance(self.orders, SimGateway):
                self.orders.set_quote(quote.symbol, book)
            commands = bot.handle(price_ticked(quote.symbol, now, book.bid, quote.swept_from))
            self.ws_ticks += 1
            if commands:
                await self.run_commands(commands)
                self.commit()
                self.write_files()

    # ---- persistence ---------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        snap: dict[str, Any] = {"bot": to_snapshot(self._bot(), self._top)}
        if isinstance(self.orders, SimGateway):
            snap["sim"] = sim_to_snapshot(self.orders.sim)
        if self.protector is not None:
            snap["stops"] = self.protector.snapshot()
        snap["exits"] = self.guard.snapshot()
        snap["last_ts"] = dict(self.last_ts)
        return snap

    def save_pending(self) -> None:
        """Commit an answer still pending (a stop placement's) before a further request."""
        if self.protector is not None:
            self.protector.save_pending()

    def _commit_intent(self, rows: list[OrderRow], fills: list[FillRow]) -> None:
        """Commit an order intent with the engine state that decided it (before the request)."""
        self.commit(rows, fills)

    def commit(
        self, rows: list[OrderRow] | None = None, fills: list[FillRow] | None = None
    ) -> None:
        """Write the engine state with every result gathered so far, in one transaction."""
        bot = self._bot()
        done_rows, done_fills = self.executor.drain()
        guard_rows, guard_fills = self.guard.drain()
        exits = tuple(bot.exits)
        bot.exits.clear()
        self.exits.extend(exits)
        batch = StateBatch(
            snapshot=self._snapshot(),
            cursor=self._cursor(),
            orders=tuple(done_rows + guard_rows + (rows or [])),
            fills=tuple(done_fills + guard_fills + (fills or [])),
            exits=exits,
            notes=tuple(self.notes),
            near_misses=new_near_misses(bot, self._near),
            shadows=() if bot.shadows is None else tuple(bot.shadows.drain()),
        )
        self.notes = []
        self.saver.save(batch)
        self.exposure.publish(bot)

    def write_files(self, force: bool = False) -> None:
        """Refresh the state files (throttled)."""
        now = self.clock.now_ms()
        if force or now - self._files_at >= self.files_every_s * 1000:
            self._files_at = now
            write_live_files(self)

    def _tracker(self, symbol: str) -> Tracker:
        """Indicators of one pair, updated candle by candle."""
        return FeatureTracker(_spec(self.cfg, self.tf))

    def _spread(self, book: BookTop) -> float:
        """The spread a candle close is judged with (the book's; a rehearsal models it)."""
        return spread_pct(book)

    def _fresh(self, symbol: str, book: BookTop) -> bool:
        """Whether the cycle's book is a price to show the engine (always, live)."""
        return True

    def _cursor(self) -> dict[str, Any]:
        """Where the runtime stands, stored with every commit."""
        return {"ts": self.clock.now_ms()}

    def _note(self, kind: str, symbol: str, text: str, immediate: bool = True) -> None:
        note = Notify(kind, symbol, text, self.clock.now_ms())
        self.notes.append(note)
        if immediate:
            self.notifier.notify(note)

    def _tell(self, note: Notify) -> None:
        """Store and send one notification."""
        self.notes.append(note)
        self.notifier.notify(note)

    def _bid(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return Decimal(repr(book.bid)) if book is not None else None

    def _bot(self) -> Bot:
        if self.bot is None:
            raise RuntimeError("runtime not started")
        return self.bot

    async def run(
        self, max_cycles: int | None = None, on_cycle: Callable[[], None] | None = None
    ) -> None:
        """Start (recover), then cycle every ``interval_s`` until stopped."""
        await run_cycles(self, max_cycles, on_cycle)


def _spec(cfg: BotConfig, tf: int) -> Any:
    from optiflow.runtimes.backtest import feature_spec

    return feature_spec(cfg, tf)
