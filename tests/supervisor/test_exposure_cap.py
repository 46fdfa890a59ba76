"""The fleet-wide exposure cap: an entry that would pass it is refused with ``fleet_exposure``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.files.exposure import write_limits  # noqa: E402
from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.engine.settings import settings_from_config  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.runtimes.live.live_support import START, Collect, ManualClock, fast_bot, new_fake  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT and 700 real candles."""
    fb = new_fake("k", "s")
    yield fb
    fb.stop()


def paper_session(fake: FakeBinance, state_dir: Path, name: str) -> tuple[SqliteStore, Collect]:
    """Run one paper bot for 400 accelerated cycles in `state_dir`; its store and notes."""
    cfg = fast_bot(name, "paper", {"api_base_url": fake.url})
    clock = ManualClock(fake, START)
    s = settings_from_config(cfg)
    spec = ExchangeSpec("binance", "spot", api_base_url=fake.url, timeout_ms=3000)
    gw = CcxtGateway.from_spec(
        spec, clock=clock, retry=RetryPolicy(max_attempts=3, base_delay=0.01, budget_s=5)
    )
    gw.exchange.enableRateLimit = False
    state_dir.mkdir(parents=True)
    store = SqliteStore(state_dir / "bot.sqlite", cfg.name)
    notes = Collect()
    rt = LiveRuntime(
        cfg,
        data=gw,
        orders=SimGateway(
            SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
        ),
        store=store,
        notifier=notes,
        clock=clock,
        state_dir=state_dir,
        mode="paper",
    )

    async def go() -> None:
        try:
            await asyncio.wait_for(rt.run(max_cycles=400), 240)
        finally:
            await gw.close()

    asyncio.run(go())
    return store, notes


def _refusals(notes: Collect) -> int:
    """Entry rejections for the fleet cap the bot announced."""
    return sum("rejected: fleet_exposure" in n.text for n in notes.notes)


def test_entries_over_the_cap_are_refused(fake: FakeBinance, tmp_path: Path) -> None:
    """Another bot already holds 950 of a 1000 USDT cap: every 100 USDT entry is refused."""
    root = tmp_path / "state"
    write_limits(root, 1000)
    (root / ".shared" / "exposure").mkdir(parents=True)
    other = {"bot": "Other", "exposure_usdt": "950", "ts": 0}
    (root / ".shared" / "exposure" / "Other.json").write_text(json.dumps(other))
    store, notes = paper_session(fake, root / "CapT", "CapT")
    try:
        assert store.fills() == [] and store.exits() == []
        assert _refusals(notes) > 0
        assert all(o.side == "sell" for o in store.orders())  # no entry reached the exchange
    finally:
        store.close()


def test_entries_under_the_cap_trade_and_publish_their_exposure(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """With room under the cap the bot trades, and its own exposure file is kept current."""
    root = tmp_path / "state"
    write_limits(root, 1000)
    store, notes = paper_session(fake, root / "CapU", "CapU")
    try:
        assert len(store.exits()) > 3 and _refusals(notes) == 0
        doc = json.loads((root / ".shared" / "exposure" / "CapU.json").read_text())
        assert doc["bot"] == "CapU" and float(doc["exposure_usdt"]) <= 1000
    finally:
        store.close()


def test_no_cap_no_ledger(fake: FakeBinance, tmp_path: Path) -> None:
    """A bot outside a capped fleet writes no exposure file and is never refused."""
    root = tmp_path / "state"
    store, notes = paper_session(fake, root / "Free", "Free")
    try:
        assert len(store.exits()) > 3 and _refusals(notes) == 0
        assert not (root / ".shared" / "exposure").exists()
    finally:
        store.close()
