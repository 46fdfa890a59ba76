"""Shadow outcomes of one bot from its store: blocked signals and what they would have made."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from optiflow.queries.view import BotView


@dataclass(frozen=True, slots=True)
class Missed:
    """One finished shadow: a blocked 1+1 signal and its shadow's net PnL."""

    symbol: str
    ts_signal: int
    reasons: tuple[str, ...]
    net_pnl: Decimal
    exit_reason: str


def top_missed(view: BotView, n: int = 10) -> list[Missed]:
    """The ``n`` finished shadows that would have made the most, best first (read-only)."""
    try:
        with view.connect() as conn:
            rows = conn.execute(
                "SELECT symbol, ts_signal, reasons, net_pnl, exit_reason FROM shadows"
            ).fetchall()
    except sqlite3.OperationalError:  # a store from before shadows were recorded
        return []
    out = [
        Missed(r[0], int(r[1]), tuple(r[2].split(",")), Decimal(r[3]), r[4]) for r in rows
    ]
    out.sort(key=lambda m: (-m.net_pnl, m.ts_signal, m.symbol))
    return out[:n]


def shadow_count(view: BotView) -> int:
    """How many finished shadows the store holds."""
    try:
        with view.connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM shadows").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
