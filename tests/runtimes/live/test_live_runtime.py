"""Paper and live runtime against a fake Binance over real HTTP (real ccxt), accelerated clock."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
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
from optiflow.adapters.files.exports import read_active_trades  # noqa: E402
from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.config.models import BotConfig  # noqa: E402
from optiflow.engine.settings import client_prefix, settings_from_config  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.runtimes.live.live_support import (  # noqa: E402
    START,
    Collect,
    ManualClock,
    fast_bot,
    new_fake,
)

KEY, SECRET = "k-LIVE0123456789", "s-LIVESECRET-abcdef012345"

PREFIX = client_prefix("LiveT")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT, 1000 USDT and 700 real candles; unknown hits fail."""
    fb = new_fake(KEY, SECRET)
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def config(fake: FakeBinance, mode: str = "paper") -> BotConfig:
    """The fast test bot, pointed at the fake."""
    return fast_bot("LiveT", mode, {"api_base_url": fake.url})


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


def live_runtime(
    cfg: BotConfig,
    gw: CcxtGateway,
    store: SqliteStore,
    notes: Collect,
    clock: ManualClock,
    state_dir: Path,
) -> LiveRuntime:
    """A live-mode runtime trading through ``gw``, with exchange stops."""
    return LiveRuntime(
        cfg,
        data=gw,
        orders=gw,
        store=store,
        notifier=notes,
        clock=clock,
        state_dir=state_dir,
        mode="live",
        protect_stops=True,
    )


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
    starts = [n.text for n in store.notes(10_000) if n.kind == "start"]
    pairs = ", ".join(cfg.pairs)  # the start note: mode, pairs, balance
    balance = f"balance {s.starting_balance:.2f} USDT"
    assert starts == [f"▶️ {cfg.name} starting (paper) on {pairs}, {balance}"]
    store.close()


def test_live_session_orders_once_with_exchange_stops(fake: FakeBinance, tmp_path: Path) -> None:
    """Live: every order reaches the exchange once, open positions carry an exchange stop."""
    cfg = config(fake, "live")
    clock = ManualClock(fake, START)
    gw = gateway(fake, clock, keys=True)
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    notes = Collect()
    rt = live_runtime(cfg, gw, store, notes, clock, tmp_path)
    run(rt, 300)
    ours = [o for o in fake.ledger.orders if o.client_id.startswith(PREFIX + "-")]
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
    """Start-up adopts an open order with this bot's prefix, ignores others, reports a shortfall."""
    from optiflow.ports.exchange import OrderRequest

    cfg = config(fake, "live")
    clock = ManualClock(fake, START)
    gw = gateway(fake, clock, keys=True)
    fake.ledger.set_balance("USDT", "520")  # the bot believes it has 1000

    async def place_foreign_orders() -> None:
        other = gateway(fake, clock, keys=True)  # e.g. placed by an earlier life of the bot
        try:
            for cid in (PREFIX + "-999999-e", "someone-else-1"):
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
    rt = live_runtime(cfg, gw, store, notes, clock, tmp_path)
    run(rt, 1)
    kinds = [n.kind for n in notes.notes]
    assert "adopted" in kinds and "balance_mismatch" in kinds
    adopted = [n.text for n in notes.notes if n.kind == "adopted"]
    assert len(adopted) == 1 and PREFIX + "-999999-e" in adopted[0]
    assert [o.client_id for o in store.orders() if o.reason == "adopted"] == [PREFIX + "-999999-e"]
    store.close()


def test_balance_surplus_on_a_shared_account_is_not_a_mismatch(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """An account holding more USDT than this bot owns (other bots' money) raises no alarm."""
    cfg = config(fake, "live")
    clock = ManualClock(fake, START)
    gw = gateway(fake, clock, keys=True)
    fake.ledger.set_balance("USDT", "5000")  # three bots share it; this one owns 1000
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    notes = Collect()
    rt = live_runtime(cfg, gw, store, notes, clock, tmp_path)
    run(rt, 1)
    assert "balance_mismatch" not in [n.kind for n in notes.notes]
    store.close()
