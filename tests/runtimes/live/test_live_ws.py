"""Websocket prices in the live runtime: exits between REST cycles, REST carries on without ws.

Real ccxt (REST) and real ccxt.pro (websocket) talk to the fake Binance on 127.0.0.1; the
clock is accelerated, and can hold the runtime between two cycles while a test pushes prices.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.ccxt.ws_feed import WsPriceFeed  # noqa: E402
from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.engine.settings import settings_from_config  # noqa: E402
from optiflow.ports.exchange import ExchangeGateway  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ws import FakeBinanceWs  # noqa: E402
from tests.runtimes.live.live_support import ROWS, START, Collect, fast_bot, new_fake  # noqa: E402

KEY, SECRET = "k-WS0123456789", "s-WSSECRET-abcdef012345"
STREAM = "btcusdt@bookTicker"


class HoldingClock:
    """Accelerated time (sleeping jumps); holds between cycles while ``hold_when()`` is true."""

    def __init__(self, fake: FakeBinance, start: int) -> None:
        """Start at ``start`` ms."""
        self.fake, self.now = fake, start
        self.hold_when: Callable[[], bool] = lambda: False
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.move(start)

    def now_ms(self) -> int:
        """The current accelerated time."""
        return self.now

    def move(self, ts: int) -> None:
        """Set the time and the fake's best bid/ask from the real candle trading then."""
        self.now = ts
        self.fake.ledger.fixed_now_ms = ts
        row = next(r for r in reversed(ROWS) if r[0] <= ts)
        price = Decimal(str(row[4] if ts - row[0] >= 30_000 else row[1]))
        self.fake.ledger.set_book("BTCUSDT", str(price - Decimal("0.01")), str(price))

    async def sleep_until(self, ts_ms: int) -> None:
        """Wait (real time) while held, then jump to ``ts_ms``."""
        if not self.release.is_set() and self.hold_when():
            self.held.set()
            await asyncio.wait_for(self.release.wait(), 20)
        self.move(max(ts_ms, self.now))
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance (REST) with BTC/USDT, 1000 USDT and 700 real candles."""
    fb = new_fake(KEY, SECRET)
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


@pytest.fixture
def fake_ws() -> Iterator[FakeBinanceWs]:
    """The fake's websocket face on its own port."""
    fw = FakeBinanceWs().start()
    yield fw
    fw.stop()


def config(fake: FakeBinance, ws_url: str, mode: str) -> BotConfig:
    """The fast test bot, pointed at the REST and websocket fakes."""
    return fast_bot("WsT", mode, {"api_base_url": fake.url, "ws_base_url": ws_url})


def build(
    fake: FakeBinance, ws_url: str, mode: str, clock: HoldingClock, tmp_path: Path
) -> tuple[LiveRuntime, WsPriceFeed, SqliteStore]:
    """A runtime on the fakes with a websocket price feed (paper: simulated fills)."""
    cfg = config(fake, ws_url, mode)
    live = mode == "live"
    spec = ExchangeSpec(
        "binance",
        "spot",
        KEY if live else None,
        SECRET if live else None,
        api_base_url=fake.url,
        ws_base_url=ws_url,
        timeout_ms=3000,
    )
    gw = CcxtGateway.from_spec(
        spec, clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=0.01, budget_s=5)
    )
    gw.exchange.enableRateLimit = False
    feed = WsPriceFeed.from_spec(spec, watch_timeout_s=5, backoff_s=0.02, max_backoff_s=0.1)
    orders: ExchangeGateway = gw
    if not live:
        s = settings_from_config(cfg)
        orders = SimGateway(
            SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
        )
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    rt = LiveRuntime(
        cfg,
        data=gw,
        orders=orders,
        store=store,
        notifier=Collect(),
        clock=clock,
        state_dir=tmp_path,
        mode="live" if live else "paper",
        protect_stops=live,
        prices=feed,
    )
    return rt, feed, store


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (real time) until ``cond()`` holds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def depth_calls(fake: FakeBinance) -> int:
    """REST book fetches so far (one per cycle)."""
    return len(fake.calls("GET", "/api/v3/depth"))


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_exit_on_a_websocket_price_between_cycles(
    fake: FakeBinance, fake_ws: FakeBinanceWs, tmp_path: Path, mode: str
) -> None:
    """A pushed bid through the stop closes the position before the next cycle's REST fetch."""
    clock = HoldingClock(fake, START)
    rt, feed, store = build(fake, fake_ws.url, mode, clock, tmp_path)
    sym = "BTC/USDT"

    async def go() -> None:
        clock.hold_when = lambda: rt.bot is not None and sym in rt.bot.positions
        task = asyncio.create_task(rt.run(max_cycles=400))
        try:
            await asyncio.wait_for(clock.held.wait(), 20)  # a position is open, cycle done
            bot: Any = rt.bot
            pos = bot.positions[sym]
            await until(lambda: fake_ws.subscribed(STREAM) == 1)
            cycles, depth, exits = rt.cycles, depth_calls(fake), len(store.exits())
            n_requests = len(fake.requests)
            bid = Decimal(str(pos.stop * 0.99)).quantize(Decimal("0.01"))
            assert fake_ws.push_book("BTCUSDT", bid, bid + Decimal("0.01")) == 1
            await until(lambda: len(store.exits()) > exits)
            now = bot.positions.get(sym)  # the engine may re-enter at once on the new price
            assert now is None or now.position_id != pos.position_id
            assert rt.cycles == cycles and depth_calls(fake) == depth, "a REST cycle ran first"
            row = store.exits()[-1]
            assert row.reason in ("sl", "stop", "stop_loss"), row.reason
            assert rt.ws_ticks >= 1
            if mode == "paper":
                assert abs(float(row.exit_price) - float(bid)) / float(bid) < 0.002
            else:
                sells = [
                    p
                    for m, path, p in fake.requests[n_requests:]
                    if m == "POST"
                    and path == "/api/v3/order"
                    and p.get("side") == "SELL"
                    and p.get("newClientOrderId", "").startswith(pos.position_id)
                ]
                assert len(sells) == 1 and sells[0]["type"] == "MARKET"
                ours = [o for o in fake.ledger.orders if o.client_id.startswith(pos.position_id)]
                assert not [o for o in ours if o.status in ("NEW", "PARTIALLY_FILLED")]
            clock.release.set()
            await until(lambda: rt.cycles >= cycles + 3, timeout=10)  # the cycles carry on
            assert depth_calls(fake) >= depth + 3
        finally:
            clock.release.set()
            rt.stop_requested = True
            await asyncio.wait_for(task, 30)
            await rt.data.close()
        assert feed.connected is False  # closed with the runtime

    asyncio.run(go())
    store.close()


def test_rest_cycles_carry_on_with_the_websocket_down(
    fake: FakeBinance, fake_ws: FakeBinanceWs, tmp_path: Path
) -> None:
    """Nothing listens on the ws port: the feed keeps retrying, the REST cycles trade as usual."""
    dead = fake_ws.url
    fake_ws.stop()
    clock = HoldingClock(fake, START)
    rt, feed, store = build(fake, dead, "paper", clock, tmp_path)

    async def go() -> None:
        try:
            await asyncio.wait_for(rt.run(max_cycles=300), 180)  # ~10 s with 2 CPU burners
        finally:
            await rt.data.close()

    asyncio.run(go())
    assert rt.cycles == 300
    assert depth_calls(fake) >= 300
    assert feed.errors >= 1 and rt.ws_ticks == 0
    assert len(store.exits()) > 2  # exits still fire on the REST price each cycle
    store.close()


def test_cli_wires_the_websocket_feed(fake: FakeBinance, tmp_path: Path) -> None:
    """``optiflow run``: a ws base gives a feed; a REST base alone or ``websocket=False`` not."""
    from optiflow.adapters.console_notifier import ConsoleNotifier
    from optiflow.interfaces.cli.run import build_live_runtime

    def prices(ws_url: str | None, websocket: bool = True) -> object:
        cfg = config(fake, ws_url or "", "paper")
        cfg = cfg.model_copy(
            update={"exchange": cfg.exchange.model_copy(update={"ws_base_url": ws_url})}
        )
        store = SqliteStore(tmp_path / f"{ws_url is None}{websocket}.sqlite", cfg.name)
        try:
            rt = build_live_runtime(
                cfg, "paper", None, store, ConsoleNotifier(cfg.name), tmp_path / "b", websocket
            )
            return rt.prices
        finally:
            store.close()

    assert isinstance(prices("ws://127.0.0.1:1"), WsPriceFeed)
    assert prices(None) is None  # the fake's REST with Binance's real stream would mix markets
    assert prices("ws://127.0.0.1:1", websocket=False) is None
