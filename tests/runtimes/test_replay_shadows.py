"""Replay keeps its shadow outcomes across stops and restarts, in its store's shadows table."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

from optiflow.adapters.memory.store import MemoryStore
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.runtimes.backtest import run_backtest
from optiflow.runtimes.replay import ReplayRuntime
from tests.runtimes.test_replay import Collect, setup


def rows(db: Path) -> list[tuple[object, ...]]:
    """Every stored shadow, in order."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT symbol, ts_signal, ts_exit, reasons, entry_price, qty, net_pnl, exit_reason "
            "FROM shadows ORDER BY id"
        ).fetchall()


def test_replay_shadows_equal_the_backtest_and_survive_restarts(tmp_path: Path) -> None:
    """An unbroken replay's shadows tally like the backtest's; a replay stopped and resumed
    four times stores exactly the same shadow rows (open shadows ride in the snapshot)."""
    cfg, data = setup()
    mem = MemoryStore(cfg.name)
    rt = ReplayRuntime(cfg, data, mem, tmp_path / "a", Collect(), 0, time.monotonic)
    asyncio.run(asyncio.wait_for(rt.run(), 120))
    report = run_backtest(cfg, data).extra["shadow_outcomes"]
    assert isinstance(report, dict)
    assert len(mem.shadows) > 10
    for reason, row in report.items():
        mine = [s for s in mem.shadows if reason in s.reasons]
        assert row["shadow_wins"] == sum(1 for s in mine if s.net_pnl > 0)
        assert row["shadow_losses"] == sum(1 for s in mine if s.net_pnl <= 0)
        assert row["shadow_net_pnl"] == sum((s.net_pnl for s in mine), Decimal(0))

    db = tmp_path / "b" / "bot.sqlite"
    db.parent.mkdir()
    resumed_with_open_shadow = False
    for stop_after in (0.05, 0.1, 0.2, 0.3):
        store = SqliteStore(db, cfg.name)
        rt = ReplayRuntime(cfg, data, store, db.parent, Collect(), 0, time.monotonic)

        async def run_for(rt: ReplayRuntime = rt, secs: float = stop_after) -> None:
            task = asyncio.create_task(rt.run())
            await asyncio.sleep(secs)
            rt.stop_requested = True
            await asyncio.wait_for(task, 60)

        asyncio.run(run_for())
        loaded = store.load()
        assert loaded is not None
        resumed_with_open_shadow |= bool(loaded.snapshot["bot"]["shadows"]["open"])
        store.close()
    store = SqliteStore(db, cfg.name)
    rt = ReplayRuntime(cfg, data, store, db.parent, Collect(), 0, time.monotonic)
    asyncio.run(asyncio.wait_for(rt.run(), 120))
    store.close()
    assert resumed_with_open_shadow, "no stop happened with a shadow open: the test proves little"
    want = [
        (s.symbol, s.ts_signal, s.ts_exit, ",".join(s.reasons), str(s.entry_price), str(s.qty),
         str(s.net_pnl), s.exit_reason)
        for s in mem.shadows
    ]  # fmt: skip
    assert rows(db) == want
