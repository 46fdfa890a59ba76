"""Shared BotRun fixtures for the report tests."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from optiflow.domain.results import BotRun, DailyTarget, ExitRow, NearMiss, SymbolStats

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 86_400_000


def _row(bot: str, pid: str, exit_: str, qty: str, fees: str, reason: str, ts: int) -> ExitRow:
    """Build an exit row entered at 100 whose net PnL is (exit - 100) * qty - fees."""
    net = (D(exit_) - D(100)) * D(qty) - D(fees)
    return ExitRow(bot, "BTC/USDT", pid, T0, ts, D(100), D(exit_), D(qty), D(fees), net, reason)


@pytest.fixture
def runs() -> list[BotRun]:
    """Return two bots: A (tp1+tp2 win, sl loss, long equity curve) and a zero-trade bot."""
    exits = (
        _row("A", "p1", "101", "1", "0.2", "tp1", T0 + HOUR),
        _row("A", "p1", "102", "1", "0.2", "tp2", T0 + 2 * HOUR),
        _row("A", "p2", "97", "1", "0.4", "sl", T0 + DAY + 3 * HOUR),
    )
    curve = tuple((T0 + i * 60_000, D(500) + D(i % 97) / 10) for i in range(5000))
    stats = (("BTC/USDT", SymbolStats(candles=2880, entries=2, rejections=(("spread", 3),))),)
    misses = (NearMiss(T0 + HOUR, "BTC/USDT", "filter", "spread", (("spread_pct", 0.52),)),)
    a = BotRun(
        "A",
        ("BTC/USDT",),
        T0,
        T0 + 2 * DAY,
        D(500),
        D("499.2"),
        exits,
        2,
        curve,
        stats,
        misses,
        DailyTarget(D(15), D(25)),
    )
    b = BotRun("<B&>", ("SOL/USDT",), T0, T0 + 2 * DAY, D(300), D(300), (), 0, (), (), (), None)
    return [a, b]
