"""Per-bot status of a fleet from the bots' stores, state files, the supervisor's view and /proc."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from optiflow.supervisor import procs
from optiflow.supervisor.fleetstate import LOCK, read_snapshot, read_state
from optiflow.supervisor.outbox import pending_notes


def _day_start_ms(ms: int) -> int:
    """Midnight UTC of the day holding `ms`."""
    d = datetime.fromtimestamp(ms / 1000, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(d.timestamp() * 1000)


def _store_facts(state_dir: Path, now_ms: int) -> dict[str, Any]:
    """Positions, cash, equity at cost, today's net PnL and orders by status, read-only."""
    snap = read_snapshot(state_dir)
    out: dict[str, Any] = {
        "open_positions": 0,
        "cash": None,
        "equity": None,
        "net_pnl": 0.0,
        "today_net_pnl": 0.0,
        "orders": {},
        "finished": False,
    }
    if snap is None:
        return out
    bot = snap.get("bot", {})
    positions = bot.get("positions", [])
    cash = Decimal(bot.get("cash", "0"))
    at_cost = sum((Decimal(p["qty"]) * Decimal(p["entry_price"]) for p in positions), Decimal(0))
    cursor = snap.get("_cursor") or {}
    clock_ms = int(cursor.get("ts") or now_ms)  # replay: the replayed time
    out.update(
        open_positions=len(positions),
        cash=float(cash),
        equity=float(cash + at_cost),
        finished=bool(snap.get("done")),
    )
    try:
        conn = sqlite3.connect(f"file:{state_dir / 'bot.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            exits = conn.execute("SELECT ts_exit, net_pnl FROM exits").fetchall()
            orders = conn.execute("SELECT status, COUNT(*) FROM orders GROUP BY status").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return out
    day = _day_start_ms(clock_ms)
    out["net_pnl"] = float(sum((Decimal(p) for _, p in exits), Decimal(0)))
    out["today_net_pnl"] = float(sum((Decimal(p) for t, p in exits if t >= day), Decimal(0)))
    out["orders"] = {str(s): int(n) for s, n in orders}
    return out


def _summary_facts(state_dir: Path) -> dict[str, Any]:
    """Cycle time and market-data errors from ``debug_monitoring_summary.json``."""
    try:
        doc = json.loads((state_dir / "debug_monitoring_summary.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {"cycle_ms": None, "errors": {}}
    symbols = doc.get("symbols", {}) if isinstance(doc, dict) else {}
    times = [s.get("last_cycle_ms") for s in symbols.values() if isinstance(s, dict)]
    errors: Counter[str] = Counter()
    for s in symbols.values():
        if isinstance(s, dict):
            errors["market_data"] += int(s.get("errors") or 0)
            errors["stale"] += int(bool(s.get("stale")))
    cycle = max((t for t in times if isinstance(t, int | float)), default=None)
    return {"cycle_ms": cycle, "errors": dict(errors)}


def bot_status(name: str, state_dir: Path, view: dict[str, Any], mode: str) -> dict[str, Any]:
    """Everything ``fleet status`` shows for one bot."""
    now = time.time()
    holder = procs.lock_holder(state_dir / "bot.lock")
    pid = holder if holder and holder > 0 else None
    facts = _store_facts(state_dir, int(now * 1000))
    state = view.get("state") or "unknown"
    if pid is not None:
        state = "stopping" if state == "stopping" else "running"
    elif state in ("running", "stopping", "unknown"):
        state = "finished" if facts["finished"] else "down"
    last = procs.heartbeat(state_dir)
    rss = procs.rss_bytes(pid) if pid else None
    up = procs.uptime_s(pid) if pid else None
    summary = _summary_facts(state_dir)
    return {
        "state": state,
        "up": pid is not None,
        "mode": mode,
        "pid": pid,
        "uptime_s": round(up, 1) if up is not None else None,
        "restarts": int(view.get("restarts", 0)),
        "last_exit": view.get("last_exit", ""),
        "open_positions": facts["open_positions"],
        "cash": facts["cash"],
        "equity": facts["equity"],
        "net_pnl": facts["net_pnl"],
        "today_net_pnl": facts["today_net_pnl"],
        "last_cycle_age_s": round(now - last, 1) if last is not None else None,
        "cycle_ms": summary["cycle_ms"],
        "rss_mb": round(rss / 2**20, 1) if rss else None,
        "orders": facts["orders"],
        "errors": summary["errors"],
        "state_dir": str(state_dir),
    }


def fleet_status(root: Path, bots: dict[str, Path] | None = None, mode: str = "") -> dict[str, Any]:
    """Status of every bot of the fleet at state root `root`, keyed by bot name.

    `bots` maps names to state folders (from the fleet folder); without it, the supervisor's
    last ``fleet_state.json`` names them.
    """
    doc = read_state(root)
    views: dict[str, Any] = doc.get("bots", {})
    if bots is None:
        bots = {n: Path(v.get("state_dir", root / n)) for n, v in views.items()}
    mode = mode or str(doc.get("mode", ""))
    return {n: bot_status(n, d, views.get(n, {}), mode) for n, d in sorted(bots.items())}


def supervisor_pid(root: Path) -> int | None:
    """The pid of the supervisor running on state root `root`, or None."""
    holder = procs.lock_holder(root / LOCK)
    return holder if holder and holder > 0 else None


def fleet_pending(root: Path) -> int:
    """Supervisor notes not yet delivered by the Telegram service."""
    return pending_notes(root)
