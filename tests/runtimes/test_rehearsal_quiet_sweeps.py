"""A candle's sweeps played at once when none can act: every durable write stays as it was."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optiflow.adapters.sim.faults import FaultyGateway, parse_faults
from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.events import Notify
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.runtimes.backtest import prepare
from optiflow.runtimes.rehearsal import RehearsalRuntime
from tests.runtimes.runs_support import bundled


class _Quiet:
    def notify(self, note: Notify) -> None:
        """Drop notifications."""


class OneByOne(RehearsalRuntime):
    """The rehearsal with every sweep played as its own point (the shortcut never taken)."""

    def _quiet_sweeps(self, t: int) -> bool:
        """Never: each candle's low, high and close go through ``_sweep_point``."""
        return False


class Counting(RehearsalRuntime):
    """The rehearsal as it is, counting the candles whose sweeps went at once and the rest."""

    taken = refused = 0

    def _quiet_sweeps(self, t: int) -> bool:
        """The shortcut's own answer, counted."""
        quiet = super()._quiet_sweeps(t)
        self.taken += quiet
        self.refused += not quiet
        return quiet


def played(
    kind: type[RehearsalRuntime], state: Path, faults: str | None
) -> tuple[RehearsalRuntime, list[tuple[int, int, str]], dict[str, Any]]:
    """One day of preset A: the runtime, each durable write (number, market time, which file)
    and what the two files hold at the end."""
    cfg, data = bundled("runtime_config_optiscalpA.json", "2023-04-03", "2023-04-04")
    state.mkdir(parents=True)
    store = SqliteStore(state / "bot.sqlite", cfg.name, durability="rehearsal")
    spec = parse_faults(faults, parse_when) if faults else None

    def wrap(ex: RehearsalExchange, now: Callable[[], int]) -> FaultyGateway:
        assert spec is not None
        return FaultyGateway(ex, spec, now)

    rt = kind(cfg, prepare(cfg, data), store, _Quiet(), state, 0, wrap=wrap if spec else None)
    writes: list[tuple[int, int, str]] = []
    wrote = rt.kill.wrote

    def exchange_wrote() -> None:
        writes.append((len(writes), rt.sim_clock.t, "exchange"))
        wrote()

    commit = rt.commit

    def committed(*args: Any, **kwargs: Any) -> None:
        before = rt.kill.writes
        commit(*args, **kwargs)
        if rt.kill.writes > before:  # a commit the quiet-cycle test did not skip
            writes.append((len(writes), rt.sim_clock.t, "store"))

    rt.market.after_write = exchange_wrote
    rt.commit = committed  # type: ignore[method-assign]
    asyncio.run(rt.run())
    loaded = store.load()
    assert loaded is not None
    held = {
        "exits": [(e.symbol, e.ts_exit, e.reason, e.exit_price, e.qty) for e in store.exits()],
        "orders": [(o.client_id, o.status, o.filled) for o in store.orders()],
        "snapshot": json.dumps(loaded.snapshot, sort_keys=True),
        "cursor": json.dumps(loaded.cursor, sort_keys=True),
        "ledger": rt.market.ledger(),
    }
    store.close()
    return rt, writes, held


@pytest.mark.parametrize("faults", [None, "seed=7,rate=0.02"])
def test_sweeps_played_at_once_leave_every_write_and_trade_as_played_one_by_one(
    tmp_path: Path, faults: str | None
) -> None:
    """Same writes (number, market time, file), same trades, orders, snapshot and ledger."""
    rt, writes, held = played(Counting, tmp_path / "at_once", faults)
    _, reference, expected = played(OneByOne, tmp_path / "one_by_one", faults)
    assert isinstance(rt, Counting)
    assert rt.taken > 1000 and rt.refused > 20  # both ways were taken, many times
    assert len(expected["exits"]) > 50
    assert writes == reference
    assert held == expected
