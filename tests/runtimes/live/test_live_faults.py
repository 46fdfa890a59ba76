"""Fault injection: the live runtime against a fake Binance (real ccxt over HTTP), one test a fault.

Each test checks the same four things after its fault: no client order id reached the exchange
twice, the store, the engine and the exchange's BTC balance agree (no lost position), every
open position has exactly one open exchange stop of its own, and the user was told.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec, build_exchange  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.engine.bot import Bot  # noqa: E402
from optiflow.engine.settings import client_prefix  # noqa: E402
from optiflow.engine.snapshot import to_snapshot  # noqa: E402
from optiflow.portfolio.position import round_step  # noqa: E402
from optiflow.ports.exchange import OrderRequest, OrderUpdate  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import Order  # noqa: E402
from tests.runtimes.live.live_support import (  # noqa: E402
    START,
    Collect,
    ManualClock,
    fast_bot,
    new_fake,
)

T = TypeVar("T")
KEY, SECRET = "k-FAULT0123456789", "s-FAULTSECRET-abcdef012345"
STEP = Decimal("0.00001")
D0 = Decimal(0)
ORDER = "/api/v3/order"


class Waits:
    """An injected sleep that records what it was asked to wait and returns at once."""

    def __init__(self) -> None:
        """Start empty."""
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        """Record one wait."""
        self.waits.append(seconds)
        await asyncio.sleep(0)


class Killed(BaseException):
    """What a kill -9 looks like to the code that was running: nothing after it happens."""


class KillAfterSubmit(CcxtGateway):
    """A gateway whose process dies right after the exchange accepted an entry order."""

    armed = True

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Submit, then die before the caller sees the acknowledgement."""
        up = await super().submit_order(order)
        if self.armed and order.type == "market" and order.side == "buy":
            raise Killed(order.client_id)
        return up


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT, 1000 USDT and 700 real candles; unknown hits fail."""
    fb = new_fake(KEY, SECRET)
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def config(fake: FakeBinance) -> BotConfig:
    """The fast live test bot, pointed at the fake."""
    return fast_bot("Fault", "live", {"api_base_url": fake.url})


def gateway(
    fake: FakeBinance,
    clock: ManualClock,
    *,
    timeout_ms: int = 3000,
    retry: RetryPolicy | None = None,
    cls: type[CcxtGateway] = CcxtGateway,
) -> CcxtGateway:
    """Real ccxt to the fake, with keys."""
    spec = ExchangeSpec(
        "binance", "spot", KEY, SECRET, api_base_url=fake.url, timeout_ms=timeout_ms
    )
    gw = cls(
        build_exchange(spec),
        market="spot",
        clock=clock,
        secrets=(KEY, SECRET),
        retry=retry or RetryPolicy(max_attempts=3, base_delay=0.01, budget_s=5),
    )
    gw.exchange.enableRateLimit = False
    return gw


class Live:
    """One live runtime on a store file, driven cycle by cycle on the accelerated clock."""

    def __init__(
        self,
        fake: FakeBinance,
        clock: ManualClock,
        tmp_path: Path,
        gw: CcxtGateway | None = None,
    ) -> None:
        """Wire a live runtime with exchange stops on ``tmp_path/bot.sqlite``."""
        self.fake, self.clock = fake, clock
        self.cfg = config(fake)
        self.gw = gw or gateway(fake, clock)
        self.store = SqliteStore(tmp_path / "bot.sqlite", self.cfg.name)
        self.told = Collect()
        self.rt = LiveRuntime(
            self.cfg,
            data=self.gw,
            orders=self.gw,
            store=self.store,
            notifier=self.told,
            clock=clock,
            state_dir=tmp_path,
            mode="live",
            protect_stops=True,
        )
        self.executor_waits = Waits()
        self.cycled = False
        self.rt.executor.sleep = self.executor_waits

    @property
    def bot(self) -> Bot:
        """The running engine."""
        assert self.rt.bot is not None
        return self.rt.bot

    async def start(self) -> None:
        """Recover and reconcile."""
        await aw(self.rt.start())

    async def cycles(self, n: int = 1) -> None:
        """Run ``n`` cycles, one interval of accelerated time apart (the first at once)."""
        for _ in range(n):
            if self.cycled:
                await aw(self.clock.sleep_until(self.clock.now + 60_000))
            self.cycled = True
            await aw(self.rt.cycle())

    async def until(self, what: str, pred: Callable[[], bool], limit: int = 150) -> None:
        """Cycle until ``pred()`` holds."""
        for _ in range(limit):
            if pred():
                return
            await self.cycles()
        raise AssertionError(f"never happened within {limit} cycles: {what}")

    async def close(self) -> None:
        """Commit what is pending, close the HTTP session and the store."""
        self.rt.commit()
        await aw(self.gw.close())
        self.store.close()


async def aw(coro: Awaitable[T], timeout: float = 30) -> T:
    """Every await of these tests, bounded."""
    return await asyncio.wait_for(coro, timeout)


def drive(body: Callable[[], Awaitable[None]]) -> None:
    """Run one async test body with an overall bound."""

    async def go() -> None:
        await asyncio.wait_for(body(), 60)

    asyncio.run(go())


def ours(fake: FakeBinance) -> list[Order]:
    """Orders of our bot at the exchange."""
    return [o for o in fake.ledger.orders if o.client_id.startswith(client_prefix("Fault") + "-")]


def posts(fake: FakeBinance, client_id: str) -> int:
    """How many order requests carried ``client_id``."""
    return sum(1 for p in fake.calls("POST", ORDER) if p.get("newClientOrderId") == client_id)


def entry_ids(fake: FakeBinance) -> list[str]:
    """Client ids of the entry orders the exchange holds."""
    return [o.client_id for o in ours(fake) if o.client_id.endswith("-e")]


def open_stops(fake: FakeBinance, prefix: str = "") -> list[Order]:
    """Open stop-loss-limit orders (of one position when ``prefix`` is its id)."""
    return [
        o
        for o in ours(fake)
        if o.type == "STOP_LOSS_LIMIT"
        and o.status in ("NEW", "PARTIALLY_FILLED")
        and o.client_id.startswith(prefix)
    ]


def assert_consistent(live: Live) -> None:
    """No duplicate order, no lost position, each position stopped at the exchange, store agrees."""
    fake, bot, store = live.fake, live.bot, live.store
    ids = [o.client_id for o in fake.ledger.orders]
    assert len(ids) == len(set(ids)), "a client order id reached the exchange twice"
    for cid in set(ids):
        assert posts(fake, cid) == 1, f"{cid} was sent {posts(fake, cid)} times"
    held = sum((p.qty for p in bot.positions.values()), D0)
    free, locked = fake.ledger.spot.get("BTC", [D0, D0])
    closed = len({e.position_id for e in store.exits()})
    dust = free + locked - held
    assert D0 <= dust < STEP * (closed + 1), f"exchange BTC {free + locked} vs positions {held}"
    for pos in bot.positions.values():
        stops = open_stops(fake, pos.position_id + "-p")
        assert len(stops) == 1, f"{pos.position_id}: {len(stops)} open exchange stops"
        assert stops[0].qty == round_step(pos.qty, STEP)
    assert all(
        o.client_id.split("-p")[0] in {p.position_id for p in bot.positions.values()}
        for o in open_stops(fake)
    ), "an exchange stop outlived its position"
    live.rt.commit()
    loaded = store.load()
    assert loaded is not None
    assert loaded.snapshot["bot"] == json.loads(json.dumps(to_snapshot(bot)))
    assert not store.orders(("intent",)), "an order intent was left unresolved"


def has_position(live: Live) -> Callable[[], bool]:
    """Predicate: a position is open and protected at the exchange."""
    return lambda: bool(live.bot.positions) and bool(open_stops(live.fake))


# ---- 1. timeout after the order was accepted ---------------------------------------------
def test_timeout_after_accept_is_looked_up_once(fake: FakeBinance, tmp_path: Path) -> None:
    """A submit that times out after the exchange took it is found by client id, booked once."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path, gw=gateway(fake, clock, timeout_ms=400))

    async def body() -> None:
        await live.start()
        fake.delay_next_order(1.5)  # the first order is the first entry: answered too late
        await live.until("first entry", lambda: bool(entry_ids(fake)))
        cid = entry_ids(fake)[0]
        assert posts(fake, cid) == 1
        assert len(fake.calls("GET", ORDER)) >= 1  # resolved by looking it up
        row = next(r for r in live.store.orders() if r.client_id == cid)
        assert row.status == "filled"
        fills = live.store.fills(cid)
        assert len(fills) == 1
        pos = live.bot.positions["BTC/USDT"]
        assert pos.position_id + "-e" == cid and pos.qty0 == fills[0].qty
        assert "entry" in live.told.kinds()
        assert_consistent(live)
        await live.cycles(40)
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 2. 5xx bursts on market data -------------------------------------------------------
def test_5xx_burst_on_market_data_skips_or_retries(fake: FakeBinance, tmp_path: Path) -> None:
    """503 bursts on the book and candles: retried or the pair skipped, trading goes on."""
    clock = ManualClock(fake, START)
    waits = Waits()
    retry = RetryPolicy(max_attempts=3, base_delay=0.2, budget_s=60, sleep=waits)
    live = Live(fake, clock, tmp_path, gw=gateway(fake, clock, retry=retry))

    async def body() -> None:
        await live.start()
        fake.fail_next(2, 503, path="/api/v3/klines")  # retried, the cycle goes through
        await live.cycles()
        assert len(waits.waits) == 2 and live.rt.cycle_info["BTC/USDT"]["errors"] == 0
        fake.fail_next(3, 503, path="/api/v3/depth")  # more than the retries: pair skipped
        cycles = live.rt.cycles
        await live.cycles()
        assert live.rt.cycles == cycles + 1
        assert live.rt.cycle_info["BTC/USDT"]["errors"] == 1  # reported in symbol_runtime
        state = json.loads((tmp_path / "debug_monitoring_summary.json").read_text())
        assert state["symbols"]["BTC/USDT"]["errors"] == 1
        await live.until("a position", has_position(live))
        fake.fail_next(3, 503, path="/api/v3/depth")
        fake.fail_next(3, 503, path="/api/v3/klines")
        await live.cycles(2)
        assert live.rt.cycle_info["BTC/USDT"]["errors"] == 3
        assert_consistent(live)
        await live.until("an exit", lambda: bool(live.store.exits()))
        await live.until("another entry", lambda: len(entry_ids(fake)) >= 2)
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 3. 429 and 418 with Retry-After ------------------------------------------------------
def test_429_and_418_retry_after_honoured(fake: FakeBinance, tmp_path: Path) -> None:
    """Retry-After of a 429 or 418 is waited out (data and orders); no order is sent twice."""
    clock = ManualClock(fake, START)
    waits = Waits()
    retry = RetryPolicy(max_attempts=4, base_delay=0.01, budget_s=600, sleep=waits)
    live = Live(fake, clock, tmp_path, gw=gateway(fake, clock, retry=retry))

    async def body() -> None:
        await live.start()
        # the first order request (an entry) is refused with a ban: the lookup waits it out
        fake.fail_next(1, 418, retry_after=45, path=ORDER)
        fake.fail_next(2, 429, retry_after=7, path="/api/v3/depth")
        await live.cycles()
        assert waits.waits[:2] == [7.0, 7.0]
        fake.fail_next(1, 418, retry_after=30, path="/api/v3/klines")
        await live.cycles()
        assert waits.waits[2] == 30.0
        assert live.rt.cycle_info["BTC/USDT"]["errors"] == 0
        await live.until("an entry attempt", lambda: bool(fake.calls("POST", ORDER)))
        cid = fake.calls("POST", ORDER)[0]["newClientOrderId"]
        assert live.executor_waits.waits and live.executor_waits.waits[0] >= 45
        row = next(r for r in live.store.orders() if r.client_id == cid)
        assert row.status == "rejected" and live.bot.reserved == 0
        assert "order_rejected" in live.told.kinds()
        assert not live.bot.positions
        await live.until("a position", has_position(live))
        assert posts(fake, cid) == 1 and cid not in entry_ids(fake)
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 4. rejected for insufficient balance and for min notional ----------------------------
@pytest.mark.parametrize("why", ["insufficient_funds", "min_notional"])
def test_rejected_order_releases_reservation(fake: FakeBinance, tmp_path: Path, why: str) -> None:
    """An entry the exchange refuses: OrderRejected, no position, reservation freed, user told."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        if why == "insufficient_funds":
            fake.ledger.set_balance("USDT", "20")  # the account holds less than the bot thinks
        else:
            fake.ledger.markets["BTCUSDT"].min_notional = Decimal(500)  # filter raised since
        await live.until("an entry attempt", lambda: bool(fake.calls("POST", ORDER)))
        cid = fake.calls("POST", ORDER)[0]["newClientOrderId"]
        assert not entry_ids(fake)
        assert not live.bot.positions and live.bot.reserved == 0 and not live.bot.entry_orders
        row = next(r for r in live.store.orders() if r.client_id == cid)
        assert row.status == "rejected"
        told = [n for n in live.told.notes if n.kind == "order_rejected"]
        assert told and cid in told[0].text
        assert ("insufficient" if why == "insufficient_funds" else "NOTIONAL") in told[0].text
        assert live.bot.cash == Decimal(1000)
        assert_consistent(live)
        fake.ledger.set_balance("USDT", "1000")  # fixed: trading resumes
        fake.ledger.markets["BTCUSDT"].min_notional = Decimal(5)
        await live.until("a position", has_position(live))
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 5. partial fills -----------------------------------------------------------------------
def test_partial_market_fill_booked_once_per_part(fake: FakeBinance, tmp_path: Path) -> None:
    """A market entry filled 40 % at once and the rest later: both parts booked once, stop grows."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        fake.ledger.partial_market = Decimal("0.4")
        await live.until("first entry", lambda: bool(entry_ids(fake)))
        cid = entry_ids(fake)[0]
        order = next(o for o in ours(fake) if o.client_id == cid)
        assert order.status == "PARTIALLY_FILLED"
        pos = live.bot.positions["BTC/USDT"]
        assert pos.qty0 < order.qty * Decimal("0.5")
        assert live.bot.reserved > 0  # the rest is still reserved
        assert "entry" in live.told.kinds()
        assert_consistent(live)  # the stop covers what is held
        await live.cycles()  # the book moves: the rest fills; the poll books it
        assert order.status == "FILLED" and len(order.fills) == 2
        fills = live.store.fills(cid)
        assert len(fills) == 2 and len({f.fill_id for f in fills}) == 2
        got = sum((f.qty for f in fills), D0)
        fee = sum((Decimal(str(t["fee"])) for t in order.fills), D0)
        assert got == order.qty - fee
        if "BTC/USDT" in live.bot.positions:
            assert live.bot.positions["BTC/USDT"].qty0 == got
        assert live.bot.reserved == 0
        assert_consistent(live)
        await live.cycles(30)
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 6. an order filled while the bot was down --------------------------------------------
def test_stop_filled_while_down_booked_on_restart(fake: FakeBinance, tmp_path: Path) -> None:
    """The exchange stop filled while down: the restart books it as the SL, sells nothing."""
    clock = ManualClock(fake, START)
    first = Live(fake, clock, tmp_path)

    async def body() -> None:
        await first.start()
        await first.until("a position", has_position(first))
        assert_consistent(first)
        pos = first.bot.positions["BTC/USDT"]
        stop = open_stops(fake)[0]
        await first.close()  # stopped: no shutdown exit, the position stays open
        # while down the price falls through the stop; the stop-limit fills on the exchange
        clock.frozen = True
        fake.ledger.set_book(
            "BTCUSDT", str(stop.stop_price - Decimal("0.02")), str(stop.stop_price)
        )
        assert stop.status == "FILLED"
        clock.move(clock.now + 180_000)
        sells_before = len([p for p in fake.calls("POST", ORDER) if p.get("side") == "SELL"])
        second = Live(fake, clock, tmp_path)
        await second.start()
        assert "BTC/USDT" not in second.bot.positions
        exits = second.store.exits()
        assert [e.reason for e in exits] == ["sl"] and exits[0].position_id == pos.position_id
        assert exits[0].qty == min(pos.qty, stop.qty)
        sells = [p for p in fake.calls("POST", ORDER) if p.get("side") == "SELL"]
        assert len(sells) == sells_before, "a sell was sent for a position the stop had closed"
        assert "recovery" in second.told.kinds() and "sl" in second.told.kinds()
        assert_consistent(second)
        clock.frozen = False
        await second.cycles(20)
        assert_consistent(second)
        await second.close()

    drive(body)


def test_stop_filled_while_running_is_booked_next_cycle(fake: FakeBinance, tmp_path: Path) -> None:
    """A stop that fills between cycles closes its position at the next cycle, no sell sent."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        await live.until("a position", has_position(live))
        pos = live.bot.positions["BTC/USDT"]
        stop = open_stops(fake)[0]
        clock.frozen = True
        fake.ledger.set_book(
            "BTCUSDT", str(stop.stop_price - Decimal("0.02")), str(stop.stop_price)
        )
        assert stop.status == "FILLED"

        def market_sells() -> int:
            return len(
                [
                    p
                    for p in fake.calls("POST", ORDER)
                    if p.get("side") == "SELL" and p.get("type") == "MARKET"
                ]
            )

        sells_before = market_sells()
        await live.cycles(1)
        now = live.bot.positions.get("BTC/USDT")
        assert now is None or now.position_id != pos.position_id  # a new entry may follow
        exits = [e for e in live.store.exits() if e.position_id == pos.position_id]
        assert [e.reason for e in exits] == ["sl"]
        assert market_sells() == sells_before
        clock.frozen = False
        await live.cycles(10)
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 7. the network gone for 60 s in the middle of a position ------------------------------
def test_network_down_mid_position(fake: FakeBinance, tmp_path: Path) -> None:
    """Every connection dropped for a while mid-position: cycles survive, the stop stays."""
    clock = ManualClock(fake, START)
    live = Live(fake, clock, tmp_path)

    async def body() -> None:
        await live.start()
        await live.until("a position", has_position(live))
        pid = live.bot.positions["BTC/USDT"].position_id
        stop = open_stops(fake)[0]
        cycles = live.rt.cycles
        fake.network_down(600)  # ended by heal() below: the count of cycles, not the wall clock
        for _ in range(5):  # 75 s of accelerated time, no network
            await aw(live.rt.cycle())
            await aw(clock.sleep_until(clock.now + 15_000))
            await asyncio.sleep(0.05)
        fake.heal()
        assert live.rt.cycles >= cycles + 5
        errors = live.rt.cycle_info["BTC/USDT"]["errors"]
        assert errors >= 2
        live.rt.write_files(force=True)  # the outage is reported in the monitoring summary
        state = json.loads((tmp_path / "debug_monitoring_summary.json").read_text())
        assert state["symbols"]["BTC/USDT"]["errors"] == errors
        assert stop.status == "NEW"  # the exchange stop protected the position all along
        await live.cycles()  # the network is back: the same position, still managed
        assert live.bot.positions["BTC/USDT"].position_id == pid
        assert open_stops(fake, pid + "-p") == [stop]
        assert_consistent(live)
        await live.until("the position's exit", lambda: "BTC/USDT" not in live.bot.positions)
        assert any(e.position_id == pid for e in live.store.exits())
        assert_consistent(live)
        await live.close()

    drive(body)


# ---- 8. kill -9 between submit and acknowledgement ------------------------------------------
def test_kill_between_submit_and_ack(fake: FakeBinance, tmp_path: Path) -> None:
    """Killed after the exchange took the entry, before the result was stored: booked once."""
    clock = ManualClock(fake, START)
    killer = gateway(fake, clock, cls=KillAfterSubmit)
    first = Live(fake, clock, tmp_path, gw=killer)

    async def body() -> None:
        await first.start()
        with pytest.raises(Killed):
            await first.until("first entry", lambda: bool(entry_ids(fake)))
        cid = entry_ids(fake)[0]
        intents = first.store.orders(("intent",))
        assert [r.client_id for r in intents] == [cid]  # what a kill -9 leaves behind
        assert first.store.fills() == []
        await aw(killer.close())
        first.store.close()
        second = Live(fake, clock, tmp_path)
        await second.start()
        assert posts(fake, cid) == 1
        pos = second.bot.positions["BTC/USDT"]
        assert pos.position_id + "-e" == cid
        fills = second.store.fills(cid)
        assert len(fills) == 1 and pos.qty0 == fills[0].qty
        row = next(r for r in second.store.orders() if r.client_id == cid)
        assert row.status == "filled"
        recovered = [n for n in second.told.notes if n.kind == "recovery"]
        assert recovered and cid in recovered[0].text
        assert_consistent(second)
        await second.cycles(30)
        assert_consistent(second)
        assert posts(fake, cid) == 1
        await second.close()

    drive(body)
