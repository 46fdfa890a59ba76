"""Commands about money: /open (positions) and /summary."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from optiflow.interfaces.telegram.registry import (
    Ctx,
    Reply,
    UsageError,
    esc,
    per_bot,
    register_command,
)
from optiflow.queries.positions import open_positions, summary
from optiflow.queries.view import BotView


def usd(x: Decimal) -> str:
    """A signed USDT amount, 2 decimals (e.g. -1.23)."""
    return f"{x:+.2f}"


def price(x: float | Decimal | None) -> str:
    """A price with 8 significant digits, or n/a."""
    return "n/a" if x is None else f"{float(x):.8g}"


def age(ms: int) -> str:
    """A duration as 1h05m / 12m / 40s."""
    s = ms // 1000
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m" if s >= 60 else f"{s}s"


def _open_body(view: BotView, rest: list[str]) -> str:
    if rest:
        raise UsageError(f"unknown bot {rest[0]}")
    rows = open_positions(view)
    if not rows:
        return "no open positions"
    lines = []
    for p in rows:
        fired = sum(p.steps_fired)
        stop = f"{price(p.stop)}{' (BE)' if p.stop_is_breakeven else ''}"
        upnl = "n/a" if p.upnl is None else usd(p.upnl)
        lines.append(
            f"{esc(p.symbol)} qty {p.qty} entry {price(p.entry)} now {price(p.price)} "
            f"uPnL {upnl} | TP1 {price(p.tp1)} TP2 {price(p.tp2)} SL {price(p.sl)} "
            f"stop {stop} | steps {fired}/{len(p.steps)} | age {age(p.age_ms)}"
        )
    return "\n".join(lines)


@register_command("open", "Trading", "open positions with levels and unrealised PnL")
def cmd_open(ctx: Ctx, args: list[str]) -> Reply:
    """Each open position: entry, price, uPnL net of fees, TP1/TP2/SL/stop, steps, age."""
    return per_bot(ctx, args, _open_body)


def _summary_body(view: BotView, rest: list[str]) -> str:
    if rest:
        raise UsageError(f"unknown bot {rest[0]}")
    s = summary(view)
    target = f" (target {s.target[0]:.2f}–{s.target[1]:.2f} $/day)" if s.target is not None else ""
    return "\n".join(
        [
            f"balance {s.balance:.2f} USDT, equity {s.equity:.2f} USDT",
            f"open positions {s.open_positions}, open risk {s.open_risk:.2f} USDT if every "
            "stop fills",
            f"net PnL today ({s.day}) {usd(s.pnl_today)}, all time {usd(s.pnl_all)}",
            f"PnL/day {usd(s.pnl_per_day)} over {s.days:.1f} days{target}",
            f"as of {datetime.fromtimestamp(s.now / 1000, UTC):%Y-%m-%d %H:%M} UTC (bot time)",
        ]
    )


@register_command("summary", "Trading", "balance, equity, open risk, PnL today and all time")
def cmd_summary(ctx: Ctx, args: list[str]) -> Reply:
    """Balance, equity, open risk, positions, today's and all-time net PnL, PnL/day."""
    return per_bot(ctx, args, _summary_body)
