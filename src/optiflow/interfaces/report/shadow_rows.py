"""The shadow-outcomes table shared by the console and HTML reports."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from optiflow.app.summary import BotSummary

TITLE = "Shadow outcomes per filter: signals blocked, shadow wins/losses, shadow net PnL"
HEADERS = ("Filter", "Blocked", "Shadow wins", "Shadow losses", "Shadow net PnL", "Reading")
READING = (
    "A filter whose blocked trades would have lost money earns its keep; one whose blocked "
    "trades would have won costs money (a shadow blocked by several filters counts for each)."
)


def reading(wins: int, losses: int, net: Decimal) -> str:
    """One verdict for one filter's shadows."""
    if wins + losses == 0:
        return "no finished shadow"
    if net < 0:
        return "earns its keep: its blocked trades would have lost"
    if net > 0:
        return "costs money: its blocked trades would have won"
    return "neutral: its blocked trades would have broken even"


def shadow_rows(s: BotSummary) -> list[tuple[str, int, int, int, Decimal, str]]:
    """(filter, blocked, wins, losses, net PnL, reading) per filter, worst cost first."""
    table: Mapping[str, Any] = s.shadow_outcomes or {}
    rows = []
    for name, v in table.items():
        net = Decimal(v["shadow_net_pnl"])
        wins, losses = int(v["shadow_wins"]), int(v["shadow_losses"])
        rows.append((name, int(v["blocked"]), wins, losses, net, reading(wins, losses, net)))
    rows.sort(key=lambda r: (-r[4], r[0]))
    return rows
