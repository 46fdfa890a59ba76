"""Replay runtime in-process: identical trades to the backtest, recovery from any commit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from optiflow.adapters.files.exports import read_active_trades
from optiflow.adapters.memory.store import MemoryStore
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.events import Notify
from optiflow.runtimes.backtest import run_backtest
from optiflow.runtimes.replay import ReplayRuntime
from tests.runtimes.runs_support import bundled


class Collect:
    """A notifier that keeps what it is told."""

    def __init__(self) -> None:
        """Start empty."""
        self.notes: list[Notify] = []

    def notify(self, note: Notify) -> None:
        """Keep one note."""
        self.notes.append(note)


def setup(start: str = "2023-04-03", end: str = "2023-04-05") -> tuple:  # type: ignore[type-arg]
    """Preset A and two days of bundled candles."""
    return bundled("runtime_config_optiscalpA.json", start, end)


def test_replay_equals_backtest(tmp_path: Path) -> None:
    """Backtest and replay of the same config on the same data give the identical trade list."""
    cfg, data = setup()
    store = MemoryStore(cfg.name)
    rt = ReplayRuntime(cfg, data, store, tmp_path, Collect(), 0, time.monotonic)
    asyncio.run(asyncio.wait_for(rt.run(), 120))
    assert tuple(store.exits()) == run_backtest(cfg, data).exits


def test_stop_and_restart_resumes_exactly(tmp_path: Path) -> None:
    """Stopping mid-replay and starting again (a new process would) gives the same trades."""
    cfg, data = setup()
    db = tmp_path / "bot.sqlite"
    notes = Collect()
    for stop_after in (0.05, 0.1, 0.2, 0.3):
        store = SqliteStore(db, cfg.name)
        rt = ReplayRuntime(cfg, data, store, tmp_path, notes, 0, time.monotonic)

        async def run_for(rt: ReplayRuntime = rt, secs: float = stop_after) -> None:
            task = asyncio.create_task(rt.run())
            await asyncio.sleep(secs)
            rt.stop_requested = True
            await asyncio.wait_for(task, 60)

        asyncio.run(run_for())
        store.close()
    store = SqliteStore(db, cfg.name)
    rt = ReplayRuntime(cfg, data, store, tmp_path, notes, 0, time.monotonic)
    asyncio.run(asyncio.wait_for(rt.run(), 120))
    assert tuple(store.exits()) == run_backtest(cfg, data).exits
    assert any(n.kind == "recovery" for n in notes.notes)
    assert store.near_misses(10), "near misses are kept in the store"
    assert read_active_trades(tmp_path / "active_trades.json") == []
    store.close()


def test_garbage_state_file_is_rewritten_from_the_database(tmp_path: Path) -> None:
    """A truncated or garbage state file never stops the bot: the database is the truth."""
    cfg, data = setup("2023-04-03", "2023-04-04")
    (tmp_path / "active_trades.json").write_text('[{"position_id": "x", "symb')
    (tmp_path / "tp_performance.csv").write_bytes(b"\x00\xff garbage")
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name)
    rt = ReplayRuntime(cfg, data, store, tmp_path, Collect(), 0, time.monotonic)
    asyncio.run(asyncio.wait_for(rt.run(), 120))
    assert read_active_trades(tmp_path / "active_trades.json") == []
    lines = (tmp_path / "tp_performance.csv").read_text().splitlines()
    assert lines[0].startswith("bot,symbol,position_id")
    assert len(lines) - 1 == len({e.position_id for e in store.exits()})
    store.close()
