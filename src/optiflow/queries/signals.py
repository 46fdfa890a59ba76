"""Closed trades with the signal combination that opened them, and results per combination."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from optiflow.queries.view import BotView


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One position that is fully closed: its symbol, signal combination and net PnL."""

    symbol: str
    position_id: str
    signals: str  # "p1,p2+c1" ("" when not recorded: adopted, or closed before v3)
    net: Decimal


def closed_trades(view: BotView) -> list[ClosedTrade]:
    """Every position with exit fills that is no longer open, in order of its first exit."""
    snap, _ = view.snapshot()
    still_open = {str(p["position_id"]) for p in snap.get("bot", {}).get("positions", [])}
    trades: dict[str, ClosedTrade] = {}
    for e in view.exits():
        if e.position_id in still_open:
            continue
        t = trades.get(e.position_id)
        signals = (t.signals if t is not None else "") or e.signals
        net = (t.net if t is not None else Decimal(0)) + e.net_pnl
        trades[e.position_id] = ClosedTrade(e.symbol, e.position_id, signals, net)
    return list(trades.values())


@dataclass(frozen=True, slots=True)
class ComboRow:
    """Results of the closed trades one signal combination opened."""

    signals: str
    trades: int
    wins: int
    net: Decimal

    @property
    def win_rate(self) -> float:
        """Share of the trades that made money (0..1)."""
        return self.wins / self.trades if self.trades else 0.0


def by_combination(trades: list[ClosedTrade]) -> list[ComboRow]:
    """Trades, wins (net > 0) and net PnL per combination, most trades first."""
    groups: dict[str, list[Decimal]] = {}
    for t in trades:
        groups.setdefault(t.signals, []).append(t.net)
    rows = [
        ComboRow(k, len(v), sum(1 for x in v if x > 0), sum(v, Decimal(0)))
        for k, v in groups.items()
    ]
    return sorted(rows, key=lambda r: (-r.trades, r.signals))
