"""Live-runtime speed benchmark for OptiFlow (issue 4, "Speed").

Two measurements:

* tick-to-order latency inside our process, for a 9-pair bot: ``LiveRuntime`` in live mode
  runs against ``StubGateway``, an in-process exchange (candles and quotes from the bundled
  1m data, market orders filled at once, no network) on an accelerated clock. The event is
  stamped (``time.perf_counter_ns``) when the runtime feeds it to the engine (``rt.feed``
  wrapped) and the stub stamps ``submit_order``; entry latency = ``CandleClosed`` in → buy
  request out, exit latency = ``PriceTicked`` in → sell request out. Both include the
  engine's decision and the order intent committed to the store before the request (the
  durability rule of ``Executor.submit``), with a SQLite store (temp dir) and with the
  in-memory store, and with and without exchange-side protective stops (``protect_stops``;
  an exit then first cancels the stop). The config enters and exits often (filters off,
  TP/SL 0.2 %) so there are hundreds of orders. Target p99 < 2 ms.
* REST calls per minute per bot: a paper session of each preset (A, B, C on its own three
  pairs) with the real ccxt gateway against the fake Binance (``tests/fakes/binance.py``,
  accelerated clock); the requests the fake receives per cycle, converted to calls and
  request weight per minute at the preset's ``interval_s`` and compared with Binance's
  6,000 weight/minute limit per IP.

Usage (from the repository root)::

    .venv/bin/python bench/run_live_bench.py                 # 3000 cycles, 120 REST cycles
    .venv/bin/python bench/run_live_bench.py --cycles 300 --rest-cycles 20   # smoke run

Results go to stdout and to ``bench/results/live.json`` (or ``--out FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import (  # noqa: E402
    CONFIGS,
    DATA_46D,
    PRESET_A,
    PRESET_B,
    PRESET_C,
    REPO,
    RESULTS,
    machine,
)
from run_replay_bench import NINE_PAIRS, CountingNotifier, percentile  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from optiflow.config.models import BotConfig
    from optiflow.domain.events import Event
    from optiflow.domain.market import BookTop, Candle, MarketLimits
    from optiflow.marketdata.loaders import CandleArrays
    from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill
    from optiflow.ports.store import Store
    from optiflow.runtimes.live.runtime import LiveRuntime
    from tests.fakes.binance import FakeBinance

WINDOW_FROM = dt.datetime(2023, 4, 2, tzinfo=dt.UTC)
TF_MS = 60_000
WARMUP = 150
FEE = Decimal("0.001")

# Binance spot request weights (developers.binance.com, spot REST API "limits" and each
# endpoint's page) for the endpoints the paper runtime uses; REQUEST_WEIGHT limit per IP.
WEIGHTS: dict[str, int] = {
    "/api/v3/depth": 5,  # limit 1-100 (we ask for 5 levels)
    "/api/v3/klines": 2,
    "/api/v3/exchangeInfo": 20,
    "/api/v3/time": 1,
    "/api/v3/ping": 1,
    "/api/v3/ticker/bookTicker": 2,
}
WEIGHT_LIMIT_PER_MIN = 6000
PRESETS = {"A": PRESET_A, "B": PRESET_B, "C": PRESET_C}


# --------------------------------------------------------------------------- shared pieces


class SimClock:
    """Accelerated time: ``sleep_until`` jumps there at once."""

    def __init__(self, start_ms: int) -> None:
        """Start at ``start_ms``."""
        self.now = start_ms

    def now_ms(self) -> int:
        """The current accelerated time."""
        return self.now

    async def sleep_until(self, ts_ms: int) -> None:
        """Jump to ``ts_ms`` (never backwards)."""
        self.now = max(self.now, ts_ms)
        await asyncio.sleep(0)


def price_at(a: CandleArrays, now_ms: int) -> float | None:
    """The traded price of the candle forming at ``now_ms`` along open, low, high, close.

    The four quarters of the minute give the open, the low, the high and the close, so a
    bot polling every 10-20 s sees the candle's range (and its TP/SL get crossed).
    """
    i = int(np.searchsorted(a.ts, now_ms, side="right")) - 1
    if i < 0:
        return None
    q = min(3, int((now_ms - int(a.ts[i])) * 4 // TF_MS))
    if now_ms - int(a.ts[i]) >= TF_MS:
        return float(a.close[i])  # no candle at this minute: the last close
    return float((a.open, a.low, a.high, a.close)[q][i])


def load_window(minutes: int) -> dict[str, CandleArrays]:
    """The nine pairs' candles from ``WINDOW_FROM`` for warm-up plus ``minutes``."""
    from optiflow.marketdata.loaders import load_folder

    ms_from = int(WINDOW_FROM.timestamp() * 1000)
    ms_to = ms_from + (WARMUP + 5 + minutes) * TF_MS
    return load_folder(DATA_46D, list(NINE_PAIRS), ms_from, ms_to)


def start_ms() -> int:
    """Clock start: after the warm-up candles, one second into a minute."""
    return int(WINDOW_FROM.timestamp() * 1000) + (WARMUP + 3) * TF_MS + 1_000


# --------------------------------------------------------------------------- latency


@dataclass
class Stamp:
    """The event currently being handled (the outermost price/candle event)."""

    kind: Literal["tick", "candle"]
    t_ns: int


@dataclass
class Submission:
    """One order request the stub received."""

    event: str  # tick | candle | none (not under a price/candle event)
    side: str
    type: str
    client_id: str
    latency_ns: int | None


class StubGateway:
    """An in-process exchange for the live runtime: market data from arrays, instant fills.

    Implements the ``ExchangeGateway`` methods the runtime uses. ``submit_order`` takes its
    timestamp first thing, so the measured latency ends when our code hands the request to
    the gateway (a real gateway would now sign it and send it).
    """

    def __init__(
        self, data: dict[str, CandleArrays], limits: dict[str, MarketLimits], clock: SimClock
    ) -> None:
        """Serve ``data`` at ``clock``'s time with ``limits`` as the markets."""
        self.data, self.limits, self.clock = data, limits, clock
        self.stamp: Stamp | None = None
        self.submissions: list[Submission] = []
        self.orders: dict[str, OrderUpdate] = {}
        self._seq = 0

    async def load_markets(self) -> dict[str, MarketLimits]:
        """The configured limits of every pair."""
        return dict(self.limits)

    def _book(self, symbol: str) -> BookTop:
        from optiflow.domain.market import BookTop

        now = self.clock.now_ms()
        p = price_at(self.data[symbol], now)
        if p is None:
            raise RuntimeError(f"{symbol}: no candle before {now}")
        tick = float(self.limits[symbol].price_tick)
        return BookTop(now, p, p + tick)

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """Bid = the traded price now, ask one tick above."""
        return self._book(symbol)

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Candles opened at or after ``since_ms`` and closed by now, oldest first."""
        from optiflow.domain.market import Candle

        a = self.data[symbol]
        now = self.clock.now_ms()
        lo = 0 if since_ms is None else int(np.searchsorted(a.ts, since_ms, side="left"))
        hi = int(np.searchsorted(a.ts, now - TF_MS, side="right"))
        return [
            Candle(
                int(a.ts[i]),
                float(a.open[i]),
                float(a.high[i]),
                float(a.low[i]),
                float(a.close[i]),
                float(a.volume[i]),
            )
            for i in range(lo, min(hi, lo + limit))
        ]

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Stamp, then fill a market order at the book (a stop order just rests)."""
        t = time.perf_counter_ns()
        from optiflow.ports.exchange import OrderUpdate

        st = self.stamp
        self.submissions.append(
            Submission(
                st.kind if st else "none",
                order.side,
                order.type,
                order.client_id,
                t - st.t_ns if st else None,
            )
        )
        if order.client_id in self.orders:
            return self.orders[order.client_id]
        self._seq += 1
        book = self._book(order.symbol)
        if order.type == "market":
            px = Decimal(repr(book.ask if order.side == "buy" else book.bid))
            up = OrderUpdate(
                order.client_id,
                f"stub-{self._seq}",
                order.symbol,
                order.side,
                "market",
                "filled",
                order.qty,
                order.qty,
                px,
                order.qty * px * FEE,
                book.ts,
            )
        else:
            up = OrderUpdate(
                order.client_id,
                f"stub-{self._seq}",
                order.symbol,
                order.side,
                order.type,
                "open",
                order.qty,
                Decimal(0),
                None,
                Decimal(0),
                book.ts,
            )
        self.orders[order.client_id] = up
        return up

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """An order by client id, or None."""
        return self.orders.get(client_id)

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel a resting (stop) order; None when it was not open."""
        from optiflow.ports.exchange import OrderUpdate

        up = self.orders.get(client_id)
        if up is None or up.state != "open":
            return None
        up = OrderUpdate(
            up.client_id,
            up.exchange_id,
            up.symbol,
            up.side,
            up.type,
            "cancelled",
            up.qty,
            up.filled,
            up.avg_price,
            up.fee_quote,
            self.clock.now_ms(),
        )
        self.orders[client_id] = up
        return up

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Resting orders."""
        return [
            o
            for o in self.orders.values()
            if o.state == "open" and (symbol is None or o.symbol == symbol)
        ]

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Not tracked: an empty account view (the runtime only compares it)."""
        return {}

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Not tracked."""
        return []

    async def close(self) -> None:
        """Nothing to release."""


def busy_config(pairs: Sequence[str], mode: str) -> BotConfig:
    """Preset A on ``pairs`` with the filters off and a tight TP/SL: many orders."""
    from optiflow.config.models import BotConfig

    raw: dict[str, Any] = json.loads((CONFIGS / PRESET_A).read_text())
    raw.update(
        name="OptiScalp_A9busy",
        mode=mode,
        pairs=list(pairs),
        max_positions=len(pairs),
        capital={"starting_balance_usdt": 100_000, "stake_usdt": 100},
        signals={**raw["signals"], "primary": ["ema_trend"], "confirming": ["rsi_band"]},
        filters={k: {"enabled": False} for k in raw["filters"]},
        exits={
            "tp1_pct": None,
            "tp2_pct": 0.2,
            "sl_pct": 0.2,
            "timeout_min": None,
            "max_hold_min": 30,
            "auto_profit_pct": None,
            "breakeven_after_tp1": False,
            "stepwise": {"enabled": False},
        },
    )
    return BotConfig.model_validate(raw)


@dataclass
class LatencyResult:
    """Tick-to-order latencies (µs) of one variant."""

    variant: str
    store: str
    protect_stops: bool
    cycles: int = 0
    wall_s: float = 0.0
    entries: int = 0
    exits: int = 0
    reactive_entries: int = 0
    stop_orders: int = 0
    other_orders: int = 0
    entry_us: dict[str, float] = field(default_factory=dict)
    exit_us: dict[str, float] = field(default_factory=dict)
    reactive_entry_us: dict[str, float] = field(default_factory=dict)


def summary_us(ns: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/max/mean in microseconds."""
    us = sorted(x / 1000 for x in ns)
    if not us:
        return {}
    return {
        "n": float(len(us)),
        "p50": percentile(us, 50),
        "p90": percentile(us, 90),
        "p99": percentile(us, 99),
        "max": us[-1],
        "mean": sum(us) / len(us),
    }


def bench_latency(
    data: dict[str, CandleArrays], cycles: int, store_kind: str, protect: bool
) -> LatencyResult:
    """Run the 9-pair busy bot for ``cycles`` cycles against the stub; collect latencies."""
    from optiflow.adapters.memory.store import MemoryStore
    from optiflow.adapters.sqlite.store import SqliteStore
    from optiflow.config.markets import market_limits
    from optiflow.domain.events import CandleClosed, PriceTicked
    from optiflow.runtimes.live.runtime import LiveRuntime

    cfg = busy_config(NINE_PAIRS, "live")
    clock = SimClock(start_ms())
    stub = StubGateway(data, {p: market_limits(cfg, p) for p in cfg.pairs}, clock)
    res = LatencyResult(
        variant=f"{store_kind}{' + exchange stops' if protect else ''}",
        store=store_kind,
        protect_stops=protect,
        cycles=cycles,
    )
    with tempfile.TemporaryDirectory(prefix="optiflow-live-bench-") as tmp:
        folder = Path(tmp)
        store: Store = (
            SqliteStore(folder / "bot.sqlite", cfg.name)
            if store_kind == "sqlite"
            else MemoryStore(cfg.name)
        )
        rt: LiveRuntime = LiveRuntime(
            cfg,
            data=stub,
            orders=stub,
            store=store,
            notifier=CountingNotifier(),
            clock=clock,
            state_dir=folder,
            mode="live",
            protect_stops=protect,
            warmup_candles=WARMUP,
        )
        inner = rt.feed

        async def feed(ev: Event) -> None:
            """Stamp the outermost price/candle event, then hand it to the engine."""
            if stub.stamp is None and isinstance(ev, (PriceTicked, CandleClosed)):
                kind: Literal["tick", "candle"] = (
                    "tick" if isinstance(ev, PriceTicked) else "candle"
                )
                stub.stamp = Stamp(kind, time.perf_counter_ns())
                try:
                    await inner(ev)
                finally:
                    stub.stamp = None
            else:
                await inner(ev)

        rt.feed = feed  # type: ignore[method-assign]
        t0 = time.perf_counter()
        asyncio.run(rt.run(max_cycles=cycles))
        res.wall_s = time.perf_counter() - t0
        store.close()

    entry_ns: list[int] = []
    exit_ns: list[int] = []
    reactive_ns: list[int] = []  # buy decided by a reactive rescan after an exit on a tick
    for s in stub.submissions:
        if s.type != "market":
            res.stop_orders += 1
        elif s.latency_ns is None:
            res.other_orders += 1
        elif s.side == "buy" and s.event == "candle":
            entry_ns.append(s.latency_ns)
        elif s.side == "sell" and s.event == "tick":
            exit_ns.append(s.latency_ns)
        elif s.side == "buy" and s.event == "tick":
            reactive_ns.append(s.latency_ns)
        else:
            res.other_orders += 1
    res.entries, res.exits, res.reactive_entries = len(entry_ns), len(exit_ns), len(reactive_ns)
    res.entry_us, res.exit_us = summary_us(entry_ns), summary_us(exit_ns)
    res.reactive_entry_us = summary_us(reactive_ns)
    return res


# --------------------------------------------------------------------------- REST calls


@dataclass
class RestResult:
    """Requests a paper bot sends the fake per cycle, and what that means per minute."""

    preset: str
    bot: str
    pairs: list[str]
    interval_s: float
    cycles: int = 0
    startup_requests: dict[str, int] = field(default_factory=dict)
    per_cycle: dict[str, float] = field(default_factory=dict)
    calls_per_cycle: float = 0.0
    weight_per_cycle: float = 0.0
    calls_per_min: float = 0.0
    weight_per_min: float = 0.0
    share_of_limit: float = 0.0
    unknown_endpoints: list[str] = field(default_factory=list)


def add_markets(fake: FakeBinance, data: dict[str, CandleArrays]) -> None:
    """List the nine pairs on the fake, with their real candles."""
    from optiflow.config.markets import shipped_markets

    table = shipped_markets()
    fake.ledger.set_balance("USDT", "100000")
    for sym, a in data.items():
        base, quote = sym.split("/")
        lim = table.get(sym)
        tick = str(lim.price_tick) if lim else "0.0001"
        step = str(lim.amount_step) if lim else "0.1"
        fake.ledger.add_market(base, quote, tick=tick, step=step, min_notional="5")
        rows = [
            [float(a.ts[i]), a.open[i], a.high[i], a.low[i], a.close[i], a.volume[i]]
            for i in range(len(a.ts))
        ]
        fake.ledger.set_candles(base + quote, rows)


class FakeClock(SimClock):
    """Accelerated clock that also moves the fake's clock and best bid/ask."""

    def __init__(self, fake: FakeBinance, data: dict[str, CandleArrays], start: int) -> None:
        """Start at ``start`` ms."""
        super().__init__(start)
        self.fake, self.data = fake, data
        self.move(start)

    def move(self, ts: int) -> None:
        """Set the time and every pair's book from the candle trading then."""
        self.now = ts
        self.fake.ledger.fixed_now_ms = ts
        for sym, a in self.data.items():
            p = price_at(a, ts)
            if p is not None:
                tick = self.fake.ledger.markets[sym.replace("/", "")].tick
                bid = Decimal(repr(p)).quantize(tick)
                self.fake.ledger.set_book(sym.replace("/", ""), str(bid), str(bid + tick))

    async def sleep_until(self, ts_ms: int) -> None:
        """Jump to ``ts_ms``."""
        self.move(max(ts_ms, self.now))
        await asyncio.sleep(0)


def bench_rest(preset: str, data: dict[str, CandleArrays], cycles: int) -> RestResult:
    """A paper session of one preset against the fake; requests per cycle and per minute."""
    from optiflow.adapters.ccxt.factory import ExchangeSpec
    from optiflow.adapters.ccxt.gateway import CcxtGateway
    from optiflow.adapters.ccxt.retry import RetryPolicy
    from optiflow.adapters.memory.store import MemoryStore
    from optiflow.adapters.sim.exchange import SimExchange
    from optiflow.adapters.sim.gateway import SimGateway
    from optiflow.config.loader import load_config
    from optiflow.engine.settings import settings_from_config
    from optiflow.runtimes.live.runtime import LiveRuntime
    from tests.fakes.binance import FakeBinance

    fake = FakeBinance(api_key="bench-key", secret="bench-secret")
    add_markets(fake, data)
    fake.start()
    try:
        base = load_config(CONFIGS / PRESETS[preset])
        cfg = base.model_copy(
            update={"exchange": base.exchange.model_copy(update={"api_base_url": fake.url})}
        )
        res = RestResult(preset, cfg.name, list(cfg.pairs), cfg.interval_s, cycles)
        clock = FakeClock(fake, data, start_ms())
        spec = ExchangeSpec("binance", "spot", None, None, api_base_url=fake.url, timeout_ms=5000)
        gw = CcxtGateway.from_spec(
            spec, clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=0.01, budget_s=5)
        )
        gw.exchange.enableRateLimit = False
        s = settings_from_config(cfg)
        sim = SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
        with tempfile.TemporaryDirectory(prefix="optiflow-rest-bench-") as tmp:
            rt = LiveRuntime(
                cfg,
                data=gw,
                orders=SimGateway(sim),
                store=MemoryStore(cfg.name),
                notifier=CountingNotifier(),
                clock=clock,
                state_dir=Path(tmp),
                mode="paper",
                warmup_candles=WARMUP,
            )
            marks: list[int] = []
            inner_cycle = rt.cycle

            async def cycle() -> None:
                """Note the request count before each cycle."""
                marks.append(len(fake.requests))
                await inner_cycle()

            rt.cycle = cycle  # type: ignore[method-assign]

            async def go() -> None:
                try:
                    await rt.run(max_cycles=cycles)
                finally:
                    await gw.close()

            asyncio.run(go())
        marks.append(len(fake.requests))
        reqs = [f"{m} {p}" for m, p, _ in fake.requests]
        res.startup_requests = dict(Counter(reqs[: marks[0]]))
        during = Counter(reqs[marks[0] : marks[-1]])
        res.per_cycle = {k: v / cycles for k, v in sorted(during.items())}
        res.calls_per_cycle = sum(during.values()) / cycles
        res.weight_per_cycle = (
            sum(WEIGHTS.get(k.split(" ", 1)[1], 1) * v for k, v in during.items()) / cycles
        )
        per_min = 60 / cfg.interval_s
        res.calls_per_min = res.calls_per_cycle * per_min
        res.weight_per_min = res.weight_per_cycle * per_min
        res.share_of_limit = res.weight_per_min / WEIGHT_LIMIT_PER_MIN
        res.unknown_endpoints = [f"{m} {p}" for m, p in fake.unknown]
        return res
    finally:
        fake.stop()


# --------------------------------------------------------------------------- report


def fmt(d: dict[str, float], key: str) -> str:
    """One latency figure (µs), or '-'."""
    return f"{d[key]:8.0f}" if key in d else "       -"


def print_report(lat: Sequence[LatencyResult], rest: Sequence[RestResult]) -> None:
    """Plain-text tables."""
    print("\ntick-to-order latency inside the process, 9-pair bot (microseconds)")
    print(
        "variant                  | cycles | wall s | entries | entry p50 | entry p99 | "
        "entry max | exits | exit p50 | exit p99 | exit max"
    )
    for r in lat:
        e, x = r.entry_us, r.exit_us
        print(
            f"{r.variant:24} | {r.cycles:6} | {r.wall_s:6.1f} | {r.entries:7} | "
            f"{fmt(e, 'p50'):>9} | {fmt(e, 'p99'):>9} | {fmt(e, 'max'):>9} | {r.exits:5} | "
            f"{fmt(x, 'p50'):>8} | {fmt(x, 'p99'):>8} | {fmt(x, 'max'):>8}"
        )
    for r in lat:
        e = r.reactive_entry_us
        print(
            f"{r.variant}: {r.reactive_entries} reactive entries (tick -> exit -> rescan -> buy) "
            f"p50 {fmt(e, 'p50').strip()} / p99 {fmt(e, 'p99').strip()} / max "
            f"{fmt(e, 'max').strip()} us; {r.stop_orders} stop orders, {r.other_orders} other"
        )
    print("\nREST calls per bot (paper session against the fake Binance, real ccxt)")
    print("preset | interval s | calls/cycle | weight/cycle | calls/min | weight/min | of 6000")
    for q in rest:
        print(
            f"{q.preset:6} | {q.interval_s:10g} | {q.calls_per_cycle:11.2f} | "
            f"{q.weight_per_cycle:12.2f} | {q.calls_per_min:9.1f} | {q.weight_per_min:10.1f} | "
            f"{q.share_of_limit * 100:6.2f} %"
        )
        print(f"         per cycle: {q.per_cycle}")
    total = sum(q.weight_per_min for r in rest)
    print(
        f"fleet A+B+C from one IP: {sum(q.calls_per_min for r in rest):.0f} calls/min, "
        f"{total:.0f} weight/min = {total / WEIGHT_LIMIT_PER_MIN * 100:.1f} % of 6000"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the latency variants and the REST count."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--cycles", type=int, default=3000, help="latency run: cycles (20 s each)")
    ap.add_argument("--rest-cycles", type=int, default=120, help="REST count: cycles per preset")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = ap.parse_args(argv)
    if args.cycles < 1 or args.rest_cycles < 1:
        ap.error("--cycles and --rest-cycles must be at least 1")

    minutes = args.cycles * 20 // 60 + 10
    data = load_window(max(minutes, args.rest_cycles * 20 // 60 + 10))
    lat: list[LatencyResult] = []
    for store_kind, protect in (("sqlite", False), ("memory", False), ("sqlite", True)):
        print(f"latency: {store_kind} store, exchange stops {protect} ...", flush=True)
        lat.append(bench_latency(data, args.cycles, store_kind, protect))
    rest: list[RestResult] = []
    for preset in PRESETS:
        print(f"REST count: preset {preset} ...", flush=True)
        rest.append(bench_rest(preset, data, args.rest_cycles))
    print_report(lat, rest)

    out = args.out or RESULTS / "live.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "machine": machine(),
        "options": {
            "cycles": args.cycles,
            "rest_cycles": args.rest_cycles,
            "window_from": WINDOW_FROM.isoformat(),
            "weights": WEIGHTS,
            "weight_limit_per_min": WEIGHT_LIMIT_PER_MIN,
        },
        "latency": [asdict(r) for r in lat],
        "rest": [asdict(r) for r in rest],
        "fleet_weight_per_min": sum(r.weight_per_min for r in rest),
        "fleet_calls_per_min": sum(r.calls_per_min for r in rest),
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
