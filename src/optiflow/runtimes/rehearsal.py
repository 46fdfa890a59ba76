"""Rehearsal: the live runtime itself on history, with a simulated clock and exchange.

The ``LiveRuntime`` (cycle, executor, exchange stops, start-up reconciliation, store, state
files, notifier) runs unchanged; only what drives it differs. Each candle is played as the
backtest plays it, as four points in time:

* at the candle's open time (the previous candle's close) the cycle runs: the closed candle
  is decided on, entries fill at the open, then the open price is shown to every position;
* at open + tf/4, + tf/2 and + tf - 1 the sweeps to low, high and close are pushed through
  the websocket-price path (``on_price``) with ``swept_from``, so a level crossed inside a
  sweep fills at the level.

A pair without a trade in a candle shows no price (as in the backtest). At the end every
position is closed at its last close (``end_of_data``). Every commit stores the last point
played completely (``cursor.done``), the point being played (``cursor.at``) with how far it
got (which pairs were shown its price), and the commands decided but not carried out yet
(the outbox, see ``rehearsal_resume``). A restart puts the market back where it stood, goes
through the runtime's own start-up reconciliation against the simulated exchange's own
file, carries out the outbox, and finishes the interrupted point from where it stopped:
the same trades as a run never killed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.adapters.sim.faults import FaultyGateway
from optiflow.adapters.sim.rehearsal import SIM_FILE, RehearsalExchange
from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.domain.events import StopRequested, SubmitOrder
from optiflow.domain.market import BookTop
from optiflow.engine.settings import settings_from_config
from optiflow.marketdata.features import compute_features
from optiflow.marketdata.loaders import CandleArrays
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.feed import PriceQuote
from optiflow.ports.notifier import Notifier
from optiflow.ports.store import FillRow, OrderRow, Store
from optiflow.runtimes.backtest import feature_spec
from optiflow.runtimes.bar_loop import AlignedData, align
from optiflow.runtimes.live.runtime import Tracker
from optiflow.runtimes.live.starting import start_when_reachable
from optiflow.runtimes.rehearsal_clock import Bands, Lookup, Points, RehearsalClock, fewer_gc_passes
from optiflow.runtimes.rehearsal_quiet import quiet_sweeps, state_mark, unchanged
from optiflow.runtimes.rehearsal_resume import CarryingRuntime, KillSwitch, load_items
from optiflow.runtimes.replay import Pacer

Wrap = Callable[[RehearsalExchange, Callable[[], int]], ExchangeGateway]


class RehearsalRuntime(CarryingRuntime):
    """One bot's live runtime driven by history at ``speed`` x real time (0: flat out)."""

    def __init__(
        self,
        cfg: BotConfig,
        arrays: list[CandleArrays],
        store: Store,
        notifier: Notifier,
        state_dir: Path,
        speed: float,
        *,
        wrap: Wrap | None = None,
        now_s: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the simulated exchange (persisted in ``state_dir``) and the runtime on it."""
        s = settings_from_config(cfg)
        spec = feature_spec(cfg, s.timeframe_ms)
        pairs = list(zip(s.symbols, arrays, strict=True))
        self.feats = {sym: compute_features(a, spec) for sym, a in pairs}
        self.al: AlignedData = align(
            s.symbols, [(a.ts, a.open, a.high, a.low, a.close, a.volume) for a in arrays],
            s.timeframe_ms,
        )  # fmt: skip
        d = self.al
        self.traded = [
            (d.rows[i] >= 0) & (np.asarray(d.volume[i]) > 0) for i in range(len(d.symbols))
        ]
        clock = RehearsalClock(int(d.ts[0]) if len(d.ts) else 0)
        limits = {sym: market_limits(cfg, sym) for sym in s.symbols}
        sim = SimExchange(s.fee_rate, s.slippage_rate, limits, {"USDT": s.starting_balance})
        self.market = RehearsalExchange(
            sim, dict(zip(s.symbols, arrays, strict=True)), clock.now_ms, state_dir / SIM_FILE
        )
        gateway = self.market if wrap is None else wrap(self.market, clock.now_ms)
        super().__init__(
            cfg,
            data=gateway,
            orders=gateway,
            store=store,
            notifier=notifier,
            clock=clock,
            state_dir=state_dir,
            mode="rehearsal",
            protect_stops=True,
            warmup_candles=max((len(a.ts) for a in arrays), default=0) + 2,
        )
        self.sim_clock, self.speed = clock, speed
        self.pacer = Pacer(speed, now_s)
        self.resume_candles = True
        self._top.open_exits = True  # the snapshot keeps open positions' exit numbers only
        self.executor.sleep = self.retry_sleep = self._sleep
        self.executor.lookup_delay_s = 0.0 if speed <= 0 else self.executor.lookup_delay_s
        self.done_ts = -1  # the last point played completely
        self.finished = False
        self.ending = False  # the engine was told the data ended (StopRequested)
        self.already_finished = False
        self._ticked: dict[str, str | None] = {}
        self._wall_files = 0.0
        self._mark: tuple[Any, ...] = ()
        self._committed_at = 0.0
        self.checkpoint_every = 1000
        self.files_every_s = 5.0 if speed <= 0 else self.files_every_s  # flat out: less often
        self._frames, self.unplaced, self.replacing = [], {}, []
        self.kill = KillSwitch()
        self.market.after_write = self.kill.wrote
        self.market.before_change = self._save_point
        self.guard.resend = self._resend
        self.at_ts = -1  # the point being played
        self._seen: dict[str, str | None] = {}  # pair -> position shown this point's sweep
        self._skip_tick: set[str] = set()  # resumed cycle: pairs already shown the open
        self._bands = Bands()  # each position's trigger band, kept while it holds
        self.points = Points(d, self.traded)

    async def _sleep(self, seconds: float) -> None:
        """Waits of the runtime (retries, Retry-After) pass at the rehearsal's speed."""
        await asyncio.sleep(0 if self.speed <= 0 else seconds / self.speed)

    # ---- hooks of the live runtime ----------------------------------------------------
    def _spread(self, book: BookTop) -> float:
        """Candle data has no book: the config's assumed spread, as in the backtest."""
        return self.cfg.costs.assumed_spread_pct

    def _tracker(self, symbol: str) -> Tracker:
        """Indicators computed once as arrays (as the backtest's fast feed), looked up by time."""
        return Lookup(self.feats[symbol])

    def _exchange_knows(self, client_id: str) -> bool:
        """Whether the exchange received this order, or was sent it without answering."""
        return client_id in self.market.orders or client_id in self.market.unseen

    def _fresh(self, symbol: str, book: BookTop) -> bool:
        """Only a pair that traded in this candle shows its open to its position (once)."""
        if symbol in self._skip_tick:
            return False
        pos = self._bot().positions.get(symbol)
        self._ticked[symbol] = pos.position_id if pos is not None else None
        return symbol in self.market.trading

    def commit(
        self, rows: list[OrderRow] | None = None, fills: list[FillRow] | None = None
    ) -> None:
        """Commit, except a quiet cycle's: nothing but indicators and counters moved.

        Skipping is safe: a restart replays from the last saved point, deterministically.
        """
        bot, p = self._bot(), self.protector
        loud = bool(
            rows or fills or bot.exits or self.notes or self.finished
            or self.executor.pending_rows or self.executor.pending_fills
            or self.guard.pending_fills
            or (p is not None and (p.pending_rows or p.pending_fills))
        )  # fmt: skip
        now, guard = time.monotonic(), self.guard
        if not loud and now - self._committed_at < 1.0 and unchanged(self._mark, bot, p, guard):
            return
        mark = state_mark(bot, p, self.guard)  # before the commit, as it saves them
        super().commit(rows, fills)
        self._mark, self._committed_at = mark, now
        self.kill.wrote()

    async def _resend(self, cmds: list[SubmitOrder]) -> None:
        """Waiting exits go out through the outbox (a kill meanwhile loses none of them)."""
        await self.run_commands(list(cmds))

    def _save_point(self) -> None:
        """Commit now (the market is about to change the exchange's books by itself)."""
        if self.bot is not None:
            self._mark = ()
            self.commit()

    def _cursor(self) -> dict[str, Any]:
        cur = {
            "ts": self.clock.now_ms(), "done": self.done_ts, "at": self.at_ts,
            "ticked": dict(self._ticked), "seen": dict(self._seen),
        }  # fmt: skip
        if self.ending:
            cur["ending"] = True
        return cur

    def _snapshot(self) -> dict[str, Any]:
        snap = super()._snapshot()
        if self.finished:
            snap["done"] = True
        return snap

    def write_files(self, force: bool = False) -> None:
        """Refresh the state files at most once a second of wall time."""
        now = time.monotonic()
        if not force and now - self._wall_files < self.files_every_s:
            return
        self._wall_files = now
        super().write_files(force=True)

    async def on_price(self, quote: PriceQuote) -> None:
        """Show one price; a re-entry inside a sweep sees the rest of it from the exit's price."""
        bot = self._bot()
        pos = bot.positions.get(quote.symbol)
        before = pos.position_id if pos is not None else None
        if quote.swept_from is not None:
            self._seen[quote.symbol] = before
        await super().on_price(quote)
        await self._rest_of_sweep(quote, before)

    async def _rest_of_sweep(self, quote: PriceQuote, before: str | None) -> None:
        """A position opened by a re-entry inside the sweep sees it from the exit's price on."""
        bot = self._bot()
        while quote.swept_from is not None:
            pos = bot.positions.get(quote.symbol)
            ex = self.market.last_exit
            if pos is None or pos.position_id == before or ex is None or ex[0] != quote.symbol:
                return
            if ex[1] == quote.book.bid:
                return
            before = self._seen[quote.symbol] = pos.position_id
            quote = PriceQuote(quote.symbol, quote.book, swept_from=ex[1])
            await super().on_price(quote)

    # ---- playing the candles ---------------------------------------------------------
    def point_ts(self, t: int, k: int) -> int:
        """The time of point ``k`` (open, low, high, close) of candle ``t``."""
        return self.points.ts(t, k)

    @fewer_gc_passes
    async def run(
        self, max_cycles: int | None = None, on_cycle: Callable[[], None] | None = None
    ) -> None:
        """Resume where the saved state stopped, play to the end of the data, close all."""
        loaded = self.store.load()
        if loaded is not None and loaded.snapshot.get("done"):
            self.already_finished = True
            return
        cursor = (loaded.cursor or {}) if loaded is not None else {}
        self.done_ts = int(cursor.get("done", -1))
        self.ending = bool(cursor.get("ending", False))
        t, k = self.points.after(self.done_ts)
        T = len(self.al.ts)
        self._restore_quotes(t, k)
        self.sim_clock.t = self.point_ts(t, k) if t < T else self.points.end_ts()
        # killed inside point (t, k): the market stands as that point showed it
        mid = t < T and int(cursor.get("at", -1)) == self.point_ts(t, k)
        if mid:
            self._show(t, k)
            self.at_ts = self.point_ts(t, k)
            self._ticked = dict(cursor.get("ticked", {})) if k == 0 else {}
            self._seen = dict(cursor.get("seen", {})) if k > 0 else {}
        elif t >= T and int(cursor.get("at", -1)) == self.points.end_ts():
            self._show_end()  # killed while closing everything at the end of the data
        if self.market.saved_at != self.sim_clock.t:
            self.market.last_exit = None  # the latest sell belongs to an earlier point
        if loaded is not None:
            self._frames = [load_items(loaded.snapshot.get("outbox", []))]
        self.books.update(self.market.quotes)
        faulty = self.orders if isinstance(self.orders, FaultyGateway) else None
        if faulty is not None:  # the market stands still while the bot (re)starts: no
            faulty.enabled = False  # faults, and no news the killed run was not told yet
        if not await start_when_reachable(self):
            return
        if faulty is not None:
            faulty.enabled = True
        await self.carry_on()  # what the killed run had decided and not carried out yet
        n = 0
        while t < T and not self.stop_requested:
            ts = self.point_ts(t, k)
            n += 1
            if self.speed > 0 or n % 64 == 0:  # flat out: let signals in now and then
                await self.pacer.wait(ts)
            fresh = not (mid and n == 1)
            if k == 0:
                await self._cycle_point(t, fresh, ts)
            elif k == 1 and fresh and self.speed <= 0 and self._quiet_sweeps(t):
                k, ts = 3, self.point_ts(t, 3)  # its three sweeps at once: none could act
            else:
                await self._sweep_point(t, k, fresh, ts)
            self.done_ts = ts
            t, k = (t, k + 1) if k < 3 else (t + 1, 0)
        if t >= T and not self.stop_requested:
            await self._finish()
        self.commit()
        self.write_files(force=True)

    def _restore_quotes(self, t: int, k: int) -> None:
        """The market as it stood just before point (t, k)."""
        quotes, self.market.trading = self.points.quotes_before(t, k)
        self.market.quotes.update(quotes)

    def _show(self, t: int, k: int, ts: int = -1) -> None:
        """The market moves to point (t, k) (its time ``ts``): candle t's traded pairs show it."""
        ts = self.point_ts(t, k) if ts < 0 else ts
        _, prices, names = self.points.candle(t)
        self.market.trading = names  # the candle's own set (replaced, never changed in place)
        self.market.show_all(self.points.named, prices, k, ts)

    async def _cycle_point(self, t: int, fresh: bool = True, ts: int = -1) -> None:
        """The candle before ``t`` closes: the market opens candle ``t``, then the cycle runs.

        ``fresh=False``: resumed inside this point (pairs already shown the open are not again).
        """
        ts = self.point_ts(t, 0) if ts < 0 else ts
        self.sim_clock.t = self.at_ts = ts
        if fresh:
            self.market.last_exit = None
            self._ticked = {}
            self._show(t, 0, ts)
        self._skip_tick = set() if fresh else set(self._ticked)
        async with self.engine_lock:
            await self.cycle()
        self._skip_tick = set()
        bot = self._bot()
        for sym in sorted(self.market.trading):  # entries found filled after the open was shown
            pos = bot.positions.get(sym)
            if pos is not None and self._ticked.get(sym) != pos.position_id:
                self._ticked[sym] = pos.position_id
                await self.on_price(PriceQuote(sym, self.market.quotes[sym]))

    def _quiet_sweeps(self, t: int) -> bool:
        """Show candle t's close at once when none of its sweeps can act (``quiet_sweeps``)."""
        held = quiet_sweeps(self._bot(), self._bands, self.al.symbols, t, self.points)
        if held is None or self.market.sim.resting:  # a waiting order fills at any price
            return False
        self.sim_clock.t = self.at_ts = end = self.point_ts(t, 3)
        self.market.last_exit, self._seen = None, {}
        self._show(t, 3, end)
        for sym in held:  # as each sweep inside its band leaves it
            self.books[sym] = self.market.quotes[sym]
        return True

    async def _sweep_point(self, t: int, k: int, fresh: bool = True, ts: int = -1) -> None:
        """Every traded pair sweeps to its low (k=1), high (2) or close (3)."""
        ts = self.point_ts(t, k) if ts < 0 else ts
        self.sim_clock.t = self.at_ts = ts
        if fresh:
            self.market.last_exit = None
            self._seen = {}
            self._show(t, k, ts)
        bot = self._bot()
        if not bot.positions and not self._seen:
            return  # no position to show the sweep to (the quotes moved above)
        moving, prices, _ = self.points.candle(t)
        symbols = self.al.symbols
        for i, pxs in zip(moving, prices, strict=True):
            sym = symbols[i]
            seen, held = sym in self._seen, sym in bot.positions
            if not seen and not held:
                continue
            if seen:  # resumed: this pair's position saw the sweep already
                quote = PriceQuote(sym, self.market.quotes[sym], swept_from=pxs[k - 1])
                await self._rest_of_sweep(quote, self._seen[sym])
                continue
            band = self._bands.get(bot, sym, ts)
            px = pxs[k]
            if band is not None and band[0] < px < band[1] and (band[2] is None or ts < band[2]):
                self.books[sym] = self.market.quotes[sym]  # inside its band: nothing can act
                continue
            await self.on_price(PriceQuote(sym, self.market.quotes[sym], swept_from=pxs[k - 1]))

    def _show_end(self) -> None:
        """The end of the data: every pair stands at its last close."""
        d, end = self.al, self.points.end_ts()
        self.sim_clock.t = self.at_ts = end
        for i, sym in enumerate(d.symbols):
            px = float(d.last_close[i])
            self.market.quotes[sym] = self.books[sym] = BookTop(end, px, px)
        self.market.trading = set(d.symbols)

    async def _finish(self) -> None:
        """End of data: every position closes at its pair's last close.

        Resumed after the engine was told to stop (``ending`` in the cursor), it is not told
        twice: what it decided then was carried out from the outbox, and an exit the
        exchange refused stays refused, as in a run never killed.
        """
        if self.at_ts != self.points.end_ts():
            self.market.last_exit = None
            self._show_end()
        async with self.engine_lock:
            if not self.ending:
                self.ending = True  # stored by the first commit the stop leads to
                await self.feed(StopRequested(self.points.end_ts(), "end_of_data"))
            self.finished = True
            self.commit()
