"""``optiflow state show|reset|repair``: a bot's stored state, for humans."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from optiflow.adapters.files.statedir import StateDirLock, wipe_state
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.config.loader import load_config
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.domain.timefmt import iso_utc
from optiflow.interfaces.cli.run import confirm_wipe, default_state_dir


def state_show(config: str, state_dir: Path | None, console: Console) -> None:
    """Print open positions, orders in flight, recent exits, counters and the replay position."""
    cfg = load_config(find_config(config))
    db = (state_dir or default_state_dir(cfg.name)) / "bot.sqlite"
    if not db.exists():
        raise UserInputError(f"{db}: no state yet for bot {cfg.name} (run it first)")
    store = SqliteStore(db, cfg.name)
    try:
        loaded = store.load()
        if loaded is None:
            console.print(f"{cfg.name}: empty store at {db}")
            return
        bot = loaded.snapshot["bot"]
        cursor = loaded.cursor or {}
        console.rule(f"{cfg.name} — {db}")
        console.print(
            f"schema v{loaded.schema_version}; position: {cursor.get('iso')}; "
            f"cash {Decimal(bot['cash']):.4f} USDT; positions opened "
            f"{bot['positions_opened']}"
            + (" ; replay finished" if loaded.snapshot.get("done") else "")
        )
        t = Table(title="Open positions")
        for col in (
            "id",
            "symbol",
            "since",
            "entry",
            "qty / original",
            "stop",
            "TP1 hit",
            "steps fired",
        ):
            t.add_column(col)
        for p in bot["positions"]:
            t.add_row(
                p["position_id"],
                p["symbol"],
                iso_utc(p["ts_entry"]),
                p["entry_price"],
                f"{p['qty']} / {p['qty0']}",
                f"{p['stop']:.8g}" + (" (break-even)" if p["stop_is_breakeven"] else ""),
                str(p["tp1_hit"]),
                str(sum(p["steps_fired"])),
            )
        console.print(t)
        inflight = store.orders(("intent", "open", "partial"))
        console.print(
            f"Orders in flight: {len(inflight)}"
            + "".join(
                f"\n  {o.client_id} {o.side} {o.qty} {o.symbol} ({o.status})" for o in inflight
            )
        )
        exits = store.exits()
        net = sum((e.net_pnl for e in exits), Decimal(0))
        e = Table(title=f"Exit fills: {len(exits)}, net PnL {net:.4f} USDT (latest 10)")
        for col in ("exit time", "symbol", "reason", "qty", "price", "net pnl"):
            e.add_column(col)
        for x in exits[-10:]:
            e.add_row(
                iso_utc(x.ts_exit),
                x.symbol,
                x.reason,
                str(x.qty),
                str(x.exit_price),
                f"{x.net_pnl:.4f}",
            )
        console.print(e)
        c = Table(title="Signals and filters per symbol")
        for col in ("symbol", "candles", "1+1 passes", "entries", "rejections"):
            c.add_column(col)
        for sym, k in bot["counters"].items():
            rej = ", ".join(f"{r} {n}" for r, n in sorted(k["rejections"].items()))
            c.add_row(sym, str(k["candles"]), str(k["passes_1plus1"]), str(k["entries"]), rej)
        console.print(c)
    finally:
        store.close()


def state_reset(config: str, state_dir: Path | None, yes: bool) -> None:
    """Delete a bot's database, state files and logs (refused while the bot runs)."""
    cfg = load_config(find_config(config))
    folder = state_dir or default_state_dir(cfg.name)
    if not folder.is_dir():
        print(f"{cfg.name}: no state folder {folder}; nothing to reset")
        return
    with StateDirLock(folder, cfg.name):
        confirm_wipe(cfg.name, folder, yes, "state reset")
        gone = wipe_state(folder)
    print(f"{cfg.name}: state reset in {folder}; removed {', '.join(gone) or 'nothing'}")


def state_repair(config: str, state_dir: Path | None) -> None:
    """Remove what two processes on one state folder left behind; say what was done."""
    cfg = load_config(find_config(config))
    folder = state_dir or default_state_dir(cfg.name)
    db = folder / "bot.sqlite"
    if not db.exists():
        raise UserInputError(f"{db}: no state yet for bot {cfg.name}; nothing to repair")
    with StateDirLock(folder, cfg.name):
        store = SqliteStore(db, cfg.name)
        try:
            done = store.repair()
        finally:
            store.close()
    if not done:
        print(f"{cfg.name}: {db} is consistent; nothing to repair")
    for line in done:
        print(f"{cfg.name}: {line}")
