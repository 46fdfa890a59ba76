"""A paper bot whose exchange serves only old candles says so once per episode, then recovers."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.engine.settings import settings_from_config  # noqa: E402
from optiflow.runtimes.live.runtime import LiveRuntime  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.runtimes.live.live_support import ROWS, START, Collect, ManualClock, fast_bot, new_fake  # noqa: E402

KEY, SECRET = "k-STALE0123456789", "s-STALESECRET-abcdef0123"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    """A fake Binance with BTC/USDT and real candles."""
    fb = new_fake(KEY, SECRET)
    yield fb
    fb.stop()


def runtime(fake: FakeBinance, clock: ManualClock, folder: Path, notes: Collect) -> LiveRuntime:
    """A paper runtime on the fake, cycling every 60 s of accelerated time."""
    cfg = fast_bot("StaleT", "paper", {"api_base_url": fake.url})
    spec = ExchangeSpec("binance", "spot", api_base_url=fake.url, timeout_ms=3000)
    gw = CcxtGateway.from_spec(
        spec, clock=clock, retry=RetryPolicy(max_attempts=2, base_delay=0.01, budget_s=5)
    )
    gw.exchange.enableRateLimit = False
    s = settings_from_config(cfg)
    sim = SimExchange(s.fee_rate, s.slippage_rate, {}, {"USDT": s.starting_balance})
    return LiveRuntime(
        cfg,
        data=gw,
        orders=SimGateway(sim),
        store=SqliteStore(folder / "bot.sqlite", cfg.name),
        notifier=notes,
        clock=clock,
        state_dir=folder,
        mode="paper",
        files_every_s=0,
    )


def symbol_block(folder: Path) -> dict[str, object]:
    """BTC/USDT's block of debug_monitoring_summary.json."""
    data = json.loads((folder / "debug_monitoring_summary.json").read_text())
    blocks = data["symbols"]
    return dict(blocks["BTC/USDT"])


def test_old_candles_only_warn_once_then_fresh_again(
    fake: FakeBinance, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No new closed candle for 3 timeframes: one WARNING, one stale_data note, a stale flag."""
    old = [r for r in ROWS if r[0] + 60_000 <= START]
    fake.ledger.set_candles("BTCUSDT", old)  # the exchange serves nothing newer than START
    clock, notes = ManualClock(fake, START), Collect()
    rt = runtime(fake, clock, tmp_path, notes)

    seen: list[tuple[int, bool]] = []  # (stale_data notes, stale flag) after each cycle

    def after_cycle() -> None:
        seen.append((notes.kinds().count("stale_data"), bool(symbol_block(tmp_path)["stale"])))

    async def session() -> None:
        try:
            with caplog.at_level(logging.WARNING, logger="optiflow.runtime"):
                await rt.run(max_cycles=9, on_cycle=after_cycle)
        finally:
            await rt.data.close()

    asyncio.run(session())
    assert seen[0] == (0, False)  # the latest candle closed 1 min ago: fine
    assert seen[-1] == (1, True)  # 9 min without a new candle: stale, said once
    assert notes.kinds().count("stale_data") == 1
    warned = [r for r in caplog.records if "stale data" in r.getMessage()]
    assert len(warned) == 1 and "BTC/USDT" in warned[0].getMessage()
    block = symbol_block(tmp_path)
    assert block["stale"] is True and float(str(block["last_candle_age_s"])) > 180
