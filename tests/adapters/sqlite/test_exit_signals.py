"""Schema v4: closed trades carry their signal combination; a v2 or v3 store upgrades in place."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from optiflow.adapters.sqlite.migrations import apply_migration
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.results import ExitRow
from optiflow.ports.store import StateBatch
from optiflow.queries.view import BotView


def row(pid: str, signals: str) -> ExitRow:
    """A closed trade of ``pid`` opened by ``signals``."""
    return ExitRow(
        "A", "BTC/USDT", pid, 1, 2, Decimal("100"), Decimal("101"), Decimal("1"),
        Decimal("0.2"), Decimal("0.8"), "tp2", signals,
    )  # fmt: skip


def test_a_v2_store_upgrades_and_new_trades_keep_their_signals(tmp_path: Path) -> None:
    """Old rows read back with "" and new rows with their combination, in the store and view."""
    path = tmp_path / "bot.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migration(conn, 1)
    apply_migration(conn, 2)
    conn.execute("INSERT INTO meta VALUES ('bot', 'A')")
    conn.execute(
        "INSERT INTO exits (bot, symbol, position_id, ts_entry, ts_exit, entry_price, "
        "exit_price, qty, fees, net_pnl, reason) VALUES "
        "('A','BTC/USDT','old',1,2,'100','99','1','0.2','-1.2','sl')"
    )
    conn.close()
    view = BotView(tmp_path)
    assert [e.signals for e in view.exits()] == [""]  # an old store reads before it upgrades
    with SqliteStore(path, "A") as store:
        store.commit(StateBatch(snapshot={}, exits=(row("new", "ema_trend+rsi_band"),)))
        assert [(e.position_id, e.signals) for e in store.exits()] == [
            ("old", ""),
            ("new", "ema_trend+rsi_band"),
        ]
    assert [e.signals for e in view.exits()] == ["", "ema_trend+rsi_band"]
