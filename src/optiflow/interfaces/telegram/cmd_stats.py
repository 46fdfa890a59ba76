"""Signal and filter commands: /failstats /blockers /filters /signalstats /near /topmissed."""

from __future__ import annotations

from datetime import UTC, datetime

from optiflow.interfaces.telegram.cmd_money import usd
from optiflow.interfaces.telegram.registry import (
    Ctx,
    Reply,
    UsageError,
    esc,
    per_bot,
    register_command,
)
from optiflow.queries.shadows import shadow_count, top_missed
from optiflow.queries.signals import by_combination, closed_trades
from optiflow.queries.stats import blockers, failstats, filters, near, signalstats
from optiflow.queries.view import BotView


def _no_args(rest: list[str]) -> None:
    if rest:
        raise UsageError(f"unknown bot {rest[0]}")


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{esc(k)} {v}" for k, v in d.items()) or "none"


def _fail_body(view: BotView, rest: list[str]) -> str:
    _no_args(rest)
    f = failstats(view)
    lines = [
        f"by kind: {_counts(f.by_kind)}",
        f"by symbol: {_counts(f.by_symbol)}",
        f"market-data errors per symbol: {_counts(f.cycle_errors)}",
        f"exit retries pending: {f.retries}",
        f"last error: {esc(f.last) if f.last else 'none'}",
    ]
    return "\n".join(lines)


@register_command("failstats", "Diagnostics", "errors per symbol and kind, retries, last error")
def cmd_failstats(ctx: Ctx, args: list[str]) -> Reply:
    """Errors per symbol and per kind (exchange, data, order), retries, last error."""
    return per_bot(ctx, args, _fail_body)


def _blockers_body(view: BotView, rest: list[str]) -> str:
    _no_args(rest)
    b = blockers(view)
    lines = []
    for sym in sorted(set(b.all_time) | set(b.today)):
        lines.append(
            f"{esc(sym)}: all time {_counts(b.all_time.get(sym, {}))}; "
            f"today {_counts(b.today.get(sym, {}))}"
        )
    return "\n".join(lines) or "no signals yet"


@register_command("blockers", "Diagnostics", "rejections by reason per symbol, today and all time")
def cmd_blockers(ctx: Ctx, args: list[str]) -> Reply:
    """Rejections by reason code per symbol (all time from counters, today from near misses)."""
    return per_bot(ctx, args, _blockers_body)


def _filters_body(view: BotView, rest: list[str]) -> str:
    _no_args(rest)
    lines = []
    for r in filters(view):
        state = {True: "on", False: "off", None: "?"}[r.enabled]
        rate = "n/a" if r.pass_rate is None else f"{r.pass_rate * 100:.1f} %"
        lines.append(f"{r.name} ({state}, {esc(r.setting)}): blocked {r.blocked}, pass rate {rate}")
    return "\n".join(lines)


@register_command("filters", "Diagnostics", "each filter's setting and pass rate")
def cmd_filters(ctx: Ctx, args: list[str]) -> Reply:
    """Each filter's setting and the share of 1+1 signals it let through."""
    return per_bot(ctx, args, _filters_body)


def _signals_body(view: BotView, rest: list[str]) -> str:
    _no_args(rest)
    lines = []
    for r in signalstats(view):
        win = "n/a" if r.positions == 0 else f"{r.wins / r.positions * 100:.1f} %"
        lines.append(
            f"{esc(r.symbol)}: primary {r.primary}, confirming {r.confirming}, 1+1 {r.passes}, "
            f"entries {r.entries}; closed {r.positions}, win rate {win}, net {usd(r.net)}"
        )
    combos = by_combination(closed_trades(view))
    if combos:
        lines.append("per signal combination (primary+confirming), closed trades:")
    for c in combos:
        name = esc(c.signals) if c.signals else "(not recorded)"
        lines.append(
            f"{name}: trades {c.trades}, win rate {c.win_rate * 100:.1f} %, net {usd(c.net)}"
        )
    return "\n".join(lines) or "no signals yet"


@register_command(
    "signalstats", "Diagnostics", "signal counts per symbol; win rate and net PnL per combination"
)
def cmd_signalstats(ctx: Ctx, args: list[str]) -> Reply:
    """Primary, confirming and 1+1 counts per symbol; win rate and net PnL per combination."""
    return per_bot(ctx, args, _signals_body)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _near_body(view: BotView, rest: list[str]) -> str:
    n = 10
    if rest:
        if not rest[0].isdigit() or len(rest) > 1:
            raise UsageError(f"not a count: {rest[0]}")
        n = max(1, min(int(rest[0]), 50))
    lines = []
    for m in near(view, n):
        vals = ", ".join(f"{esc(k)}={v:.6g}" for k, v in m.values)
        lines.append(f"{_iso(m.ts)} {esc(m.symbol)} {esc(m.kind)} {esc(m.reason)}: {vals}")
    return "\n".join(lines) or "no near misses yet"


@register_command(
    "near", "Diagnostics", "the latest near misses with their values", "/near [BOT] [N]"
)
def cmd_near(ctx: Ctx, args: list[str]) -> Reply:
    """The latest near misses (default 10, at most 50) with their deciding values."""
    return per_bot(ctx, args, _near_body)


def _topmissed_body(view: BotView, rest: list[str]) -> str:
    n = 10
    if rest:
        if not rest[0].isdigit() or len(rest) > 1:
            raise UsageError(f"not a count: {rest[0]}")
        n = max(1, min(int(rest[0]), 50))
    lines = [
        f"{_iso(m.ts_signal)} {esc(m.symbol)} blocked by {esc('+'.join(m.reasons))}: "
        f"shadow {m.net_pnl:+.2f} USDT ({esc(m.exit_reason)})"
        for m in top_missed(view, n)
    ]
    if not lines:
        return "no finished shadow yet (or shadows.enabled is false)"
    return f"top {len(lines)} of {shadow_count(view)} shadows:\n" + "\n".join(lines)


@register_command(
    "topmissed",
    "Diagnostics",
    "blocked signals ranked by what they would have made",
    "/topmissed [BOT] [N]",
)
def cmd_topmissed(ctx: Ctx, args: list[str]) -> Reply:
    """Blocked 1+1 signals ranked by their shadow's net PnL (default 10, at most 50)."""
    return per_bot(ctx, args, _topmissed_body)
