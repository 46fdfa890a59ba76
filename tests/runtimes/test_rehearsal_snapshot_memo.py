"""The rehearsal's snapshot reuses unchanged parts' data: every commit equals a fresh build."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.events import Notify
from optiflow.engine.snapshot import open_exit_seq, to_snapshot
from optiflow.runtimes.backtest import prepare
from optiflow.runtimes.rehearsal import RehearsalRuntime
from tests.runtimes.runs_support import bundled


class _Quiet:
    def notify(self, note: Notify) -> None:
        """Drop notifications."""


class Checked(RehearsalRuntime):
    """At every snapshot, the memo's data is compared with a snapshot built from scratch."""

    snapshots = 0
    shadow_changes = 0

    def _snapshot(self) -> dict[str, Any]:
        """The runtime's snapshot, checked against ``to_snapshot`` without a memo."""
        snap = super()._snapshot()
        bot = self._bot()
        fresh = to_snapshot(bot)
        fresh["exit_seq"] = open_exit_seq(bot)  # the rehearsal keeps open positions' only
        assert json.dumps(snap["bot"], sort_keys=True) == json.dumps(fresh, sort_keys=True)
        shadows = json.dumps(fresh["shadows"]["open"])
        self.shadow_changes += shadows != getattr(self, "_last_open", None)
        self._last_open = shadows
        self.snapshots += 1
        return snap


def test_every_commit_of_a_day_holds_what_a_fresh_snapshot_holds(tmp_path: Path) -> None:
    """A day of preset A: positions, orders, open shadows and top winners change and stay put."""
    cfg, data = bundled("runtime_config_optiscalpA.json", "2023-04-03", "2023-04-04")
    store = SqliteStore(tmp_path / "bot.sqlite", cfg.name, durability="rehearsal")
    rt = Checked(cfg, prepare(cfg, data), store, _Quiet(), tmp_path, 0)
    asyncio.run(rt.run())
    store.close()
    assert rt.snapshots > 300
    assert 20 < rt.shadow_changes < rt.snapshots  # open shadows both changed and stayed
