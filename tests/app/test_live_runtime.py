"""Paper and live runtime against a fake Binance over real HTTP (real ccxt), accelerated clock."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.files.exports import read_active_trades  # noqa: E402
from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.app.live import LiveRuntime  # noqa: E402
from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.domain.events import Notify  # noqa: E402
from optiflow.engine.settings import settings_from_config  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import load_candles  # noqa: E402

KEY, SECRET = "k-LIVE0123456789", "s-LIVESECRET-abcdef012345"
ROWS = load_candles(REPO / "data" / "binance_spot_1m" / "BTC-USDT_1m.csv.gz")[20_000:20_700]
START = int(ROWS[160][0]) + 60_000 + 1_000


class Collect:
    """A notifier that keeps what it is told."""

    def __init__(self) -> None:
        """Start empty."""
        self.notes: list[Notify] = []

    def notify(self, note: Notify) -> None:
        """Keep one note."""
        self.notes.append(note)


class ManualClock:
    """Accelerated time: sleeping jumps the clock (and the fake exchange's clock) forward."""

    def __init__(self, fake: FakeBinance, start: int) -> None:
        """Start at ``start`` ms."""
        self.fake, self.now = fake, start
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
        """Jump to ``ts_ms``."""
        self.move(max(ts_ms, self.now))
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT, 1000 USDT and 700 real candles; unknown hits fail."""
    fb = FakeBinance(api_key=KEY, secret=SECRET)
    led = fb.ledger
    led.add_market("BTC", "USDT", tick="0.01", step="0.00001", min_notional="5")
    led.set_balance("USDT", "1000")
    led.set_candles("BTCUSDT", ROWS)
    led.fixed_now_ms = START
    fb.start()
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def config(fake: FakeBinance, mode: str = "paper") -> BotConfig:
    """A small BTC bot that trades often (filters off), pointed at the fake."""
    off = {"enabled": False}
    return BotConfig.model_validate(
        {
            "name": "LiveT",
            "mode": mode,
            "pairs": ["BTC/USDT"],
            "interval_s": 60,
            "exchange": {"id": "binance", "market": "spot", "api_base_url": fake.url},
            "capital": {"starting_balance_usdt": 1000, "stake_usdt": 100},
            "signals": {"primary": ["ema_trend"], "confirming": ["rsi_band"]},
            "filters": {
                k: off
                for k in ("spread", "notional", "volume", "atr", "cooldown", "rate", "blacklist")
            },
            "exits": {
                "tp1_pct": None,
                "tp2_pct": 0.2,
                "sl_pct": 0.2,
                "timeout_min": None,
                "max_hold_min": 30,
                "auto_profit_pct": None,
                "breakeven_after_tp1": False,
                "stepwise": {"enabled": False},
            },
        }
    )


def gateway(fake: FakeBinance, clock: ManualClock, keys: bool) -> CcxtGateway:
    """Real ccxt to the fake."""
    spec = ExchangeSpec(
        "binance",
        "spot",
        KEY if keys else None,
        SECRET if keys else None,
        api_base_url=fake.url,
        timeout_ms=3000,
    )
    gw = CcxtGateway.from_spec(
        spec, clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=0.01, budget_s=5)
    )
    gw.exchange.enableRateLimit = False
    return gw


def run(rt: LiveRuntime, cycles: int) -> None:
    """Run the runtime for a number of cycles, closing the connections after."""

    async def go() -> None:
        try:
            await asyncio.wait_for(rt.run(max_cycles=cycles), 240)
        finally:
            await rt.data.close()

    asyncio.run(go())


def test_paper_session_store_exchange_and_files_agree(fake: FakeBinance, tmp_path: Path) -> None:
    """Paper: live data from the exchange, fills by the simulator; books agree at the end."""
    cfg = config(fake)
    clock = ManualClock(fake, START)
    s = settings_from_config(cfg)
    sim = SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    rt = LiveRuntime(
        cfg,
        data=gateway(fake, clock, keys=False),
        orders=SimGateway(sim),
        store=store,
        notifier=Collect(),
        clock=clock,
        state_dir=tmp_path,
        mode="paper",
    )
    run(rt, 400)
    exits = store.exits()
    assert len(exits) > 5
    fills = store.fills()
    assert len(fills) == len(sim.ledger)
    assert [o.client_id for o in fake.ledger.orders] == []  # paper never sends orders
    assert sim.balances["USDT"] == rt.bot.cash if rt.bot else False
    active = read_active_trades(tmp_path / "active_trades.json")
    assert active is not None and len(active) == len(rt.bot.positions if rt.bot else [])
    store.close()


def test_live_session_orders_once_with_exchange_stops(fake: FakeBinance, tmp_path: Path) -> None:
    """Live: every order reaches the exchange once, open positions carry an exchange stop."""
    cfg = config(fake, "live")
    clock = ManualClock(fake, START)
    gw = gateway(fake, clock, keys=True)
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    notes = Collect()
    rt = LiveRuntime(
        cfg,
        data=gw,
        orders=gw,
        store=store,
        notifier=notes,
        clock=clock,
        state_dir=tmp_path,
        mode="live",
        protect_stops=True,
    )
    run(rt, 300)
    ours = [o for o in fake.ledger.orders if o.client_id.startswith("ofLiveT-")]
    ids = [o.client_id for o in ours]
    assert len(ids) == len(set(ids)), "a client order id reached the exchange twice"
    market = [o for o in ours if "-p" not in o.client_id]
    assert len(store.exits()) > 3
    assert any("-p" in i for i in ids), "no exchange stop was ever placed"
    bot: Any = rt.bot
    btc = fake.ledger.balances.get("BTC", Decimal(0)) if hasattr(fake.ledger, "balances") else None
    held = sum((p.qty for p in bot.positions.values()), Decimal(0))
    if btc is not None:
        assert abs(btc - held) < Decimal("0.0001")
    for pos in bot.positions.values():
        open_stops = [
            o
            for o in ours
            if o.client_id.startswith(pos.position_id + "-p") and o.status in ("NEW", "open")
        ]
        assert len(open_stops) == 1
    assert market
    # the state files agree with the store and the exchange
    rt.write_files(force=True)
    active = read_active_trades(tmp_path / "active_trades.json")
    assert active is not None
    assert {a["position_id"] for a in active} == {p.position_id for p in bot.positions.values()}
    perf = (tmp_path / "tp_performance.csv").read_text().splitlines()[1:]
    open_ids = {p.position_id for p in bot.positions.values()}
    assert len(perf) == len({e.position_id for e in store.exits()} - open_ids)
    filled = [o for o in ours if o.side == "SELL" and o.status == "FILLED"]  # sells and stops
    assert len(filled) == len(store.exits())
    store.close()


def test_reconcile_adopts_our_unknown_orders_and_reports_balance(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """Start-up adopts an open order with this bot's prefix, ignores others, reports balances."""
    from optiflow.ports.exchange import OrderRequest

    cfg = config(fake, "live")
    clock = ManualClock(fake, START)
    gw = gateway(fake, clock, keys=True)
    fake.ledger.set_balance("USDT", "5000")  # the bot believes it has 1000

    async def place_foreign_orders() -> None:
        other = gateway(fake, clock, keys=True)  # e.g. placed by an earlier life of the bot
        try:
            for cid in ("ofLiveT-999999-e", "someone-else-1"):
                await asyncio.wait_for(
                    other.submit_order(
                        OrderRequest(
                            cid, "BTC/USDT", "buy", "limit", Decimal("0.01"), price=Decimal("1000")
                        )
                    ),
                    10,
                )
        finally:
            await other.close()

    asyncio.run(place_foreign_orders())
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    notes = Collect()
    rt = LiveRuntime(
        cfg,
        data=gw,
        orders=gw,
        store=store,
        notifier=notes,
        clock=clock,
        state_dir=tmp_path,
        mode="live",
        protect_stops=True,
    )
    run(rt, 1)
    kinds = [n.kind for n in notes.notes]
    assert "adopted" in kinds and "balance_mismatch" in kinds
    adopted = [n.text for n in notes.notes if n.kind == "adopted"]
    assert len(adopted) == 1 and "ofLiveT-999999-e" in adopted[0]
    assert [o.client_id for o in store.orders() if o.reason == "adopted"] == ["ofLiveT-999999-e"]
    store.close()
