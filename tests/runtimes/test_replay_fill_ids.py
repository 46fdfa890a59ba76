"""Issue 7, bug 8: replay fill ids are the same across restarts and distinct per partial fill."""

from __future__ import annotations

import asyncio
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.sqlite.store import SqliteStore  # noqa: E402
from optiflow.domain.events import OrderFilled  # noqa: E402
from optiflow.ports.store import OrderRow  # noqa: E402
from optiflow.runtimes.replay import ReplayRuntime, StepLog  # noqa: E402
from tests.runtimes.test_replay import Collect, setup  # noqa: E402


def fill_ids(db: Path, name: str) -> list[str]:
    """Every fill id in a store, in order."""
    store = SqliteStore(db, name)
    try:
        return sorted(f.fill_id for f in store.fills())
    finally:
        store.close()


def test_fill_ids_do_not_depend_on_restarts(tmp_path: Path) -> None:
    """A replay stopped three times and resumed stores exactly the fill ids of an unbroken one."""
    cfg, data = setup()
    whole = tmp_path / "whole.sqlite"
    store = SqliteStore(whole, cfg.name)
    asyncio.run(ReplayRuntime(cfg, data, store, tmp_path / "w", Collect(), 0, time.monotonic).run())
    store.close()
    broken = tmp_path / "broken.sqlite"
    for stop_after in (0.1, 0.2, 0.3, None):
        store = SqliteStore(broken, cfg.name)
        rt = ReplayRuntime(cfg, data, store, tmp_path / "b", Collect(), 0, time.monotonic)

        async def run_for(rt: ReplayRuntime = rt, secs: float | None = stop_after) -> None:
            task = asyncio.create_task(rt.run())
            if secs is not None:
                await asyncio.sleep(secs)
                rt.stop_requested = True
            await asyncio.wait_for(task, 120)

        asyncio.run(run_for())
        store.close()
    ids = fill_ids(whole, cfg.name)
    assert len(ids) > 20 and len(set(ids)) == len(ids)
    assert fill_ids(broken, cfg.name) == ids


def test_two_partial_fills_of_one_order_get_two_ids_and_a_redo_the_same(tmp_path: Path) -> None:
    """Two partial fills of one order are two rows; redoing the step names them the same."""
    cfg, data = setup()
    rt = ReplayRuntime(
        cfg, data, SqliteStore(tmp_path / "db", cfg.name), tmp_path, Collect(), 0, time.monotonic
    )
    loop = rt.loop
    order = OrderRow(
        "x-000001-e",
        "x-000001",
        "BTC/USDT",
        "buy",
        "entry",
        Decimal("0.3"),
        Decimal(0),
        "open",
        100.0,
        1,
        1,
    )

    def play() -> list[str]:
        loop.step, loop.open_rows = StepLog(), {order.client_id: order}
        for qty in ("0.1", "0.2"):
            loop.record_result(
                OrderFilled(
                    order.client_id, "BTC/USDT", "buy", Decimal(qty), Decimal(100), Decimal(0), 2
                )
            )
        return [f.fill_id for f in loop.step.fills]

    try:
        first = play()
        assert len(set(first)) == 2
        assert play() == first
        assert loop.step.orders[order.client_id].status == "filled"
    finally:
        rt.store.close()  # type: ignore[attr-defined]
