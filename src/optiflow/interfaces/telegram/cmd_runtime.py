"""Commands about the running process: /runtime /log /dailycsv /shutdown."""

from __future__ import annotations

from datetime import UTC, date, datetime

from optiflow.interfaces.telegram.registry import (
    Ctx,
    Reply,
    UsageError,
    esc,
    find_bot,
    per_bot,
    register_command,
    select,
)
from optiflow.queries.runtime import LOG_MAX_LINES, daily_csv, log_tail, runtime
from optiflow.queries.view import BotView


def _num(x: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:{fmt}}{unit}"


def _runtime_body(view: BotView, rest: list[str]) -> str:
    if rest:
        raise UsageError(f"unknown bot {rest[0]}")
    r = runtime(view)
    state = f"running (pid {r.pid})" if r.running else "not running"
    return "\n".join(
        [
            f"{state}; mode {esc(r.mode)}, exchange {esc(r.exchange)}",
            f"uptime {_num(r.uptime_s, '.0f', ' s')}, cycles {_num(r.cycles, 'd')}, "
            f"last cycle {_num(r.last_cycle_age_s, '.1f', ' s')} ago",
            f"cycle time p50 {_num(r.cycle_ms_p50, '.1f', ' ms')}, "
            f"p99 {_num(r.cycle_ms_p99, '.1f', ' ms')}",
            f"prices {esc(r.prices)}, memory {_num(r.rss_mb, '.0f', ' MB')}",
        ]
    )


@register_command("runtime", "Runtime", "mode, uptime, cycles, cycle times, prices, memory")
def cmd_runtime(ctx: Ctx, args: list[str]) -> Reply:
    """Mode, exchange, uptime, cycles, last cycle age, cycle p50/p99, prices, memory."""
    return per_bot(ctx, args, _runtime_body)


def _log_body(view: BotView, rest: list[str]) -> str:
    n = 20
    if rest:
        if len(rest) > 1 or not rest[0].isdigit() or int(rest[0]) < 1:
            raise UsageError(f"not a line count: {' '.join(rest)}")
        n = min(int(rest[0]), LOG_MAX_LINES)
    lines = log_tail(view, n)
    return "\n".join(esc(line) for line in lines) or "the log is empty"


@register_command(
    "log",
    "Runtime",
    f"the last N lines of the log (default 20, at most {LOG_MAX_LINES})",
    "/log [BOT] [N]",
)
def cmd_log(ctx: Ctx, args: list[str]) -> Reply:
    """The last N lines of each bot's log."""
    return per_bot(ctx, args, _log_body)


@register_command(
    "dailycsv",
    "Runtime",
    "that day's trades_YYYY-MM-DD.csv as a file",
    "/dailycsv [BOT] [YYYY-MM-DD]",
)
def cmd_dailycsv(ctx: Ctx, args: list[str]) -> Reply:
    """One bot's trades file of a UTC day (default: the bot's today) as a document."""
    views, rest = select(ctx, args)
    if len(views) != 1:
        raise UsageError("name one bot: " + ", ".join(ctx.bots))
    view = views[0]
    if len(rest) > 1:
        raise UsageError("")
    try:
        day = (
            date.fromisoformat(rest[0])
            if rest
            else datetime.fromtimestamp(view.now_ms() / 1000, UTC).date()
        )
    except ValueError:
        raise UsageError(f"not a date: {rest[0]}") from None
    path = daily_csv(view, day)
    if path is None:
        return Reply(f"<b>{esc(view.name)}</b>\nno trades file for {day.isoformat()}")
    return Reply(f"<b>{esc(view.name)}</b>\n{path.name}", document=path)


@register_command("shutdown", "Runtime", "stop a bot cleanly (asks to confirm)", "/shutdown BOT")
def cmd_shutdown(ctx: Ctx, args: list[str]) -> Reply:
    """Ask to confirm with a button; ``/shutdown BOT yes`` (or the button) stops the bot."""
    view = find_bot(ctx, args[0]) if args else None
    if view is None and len(ctx.bots) == 1 and len(args) <= 1:
        view = next(iter(ctx.bots.values()))
        args = [view.name, *args]
    if view is None or len(args) > 2 or (len(args) == 2 and args[1] != "yes"):
        raise UsageError("name the bot to stop: " + ", ".join(ctx.bots))
    if len(args) == 2:
        return Reply(shutdown_now(ctx, view))
    return Reply(
        f"Stop bot <b>{esc(view.name)}</b>? Open positions stay open and are managed again "
        f"at the next start. (or send: /shutdown {esc(view.name)} yes)",
        buttons=((f"Yes, stop {view.name}", f"shutdown:{view.name}"),),
    )


def shutdown_now(ctx: Ctx, view: BotView) -> str:
    """Stop the bot through ``ctx.stop_bot``; say what happened."""
    if ctx.stop_bot is None:
        return "this service cannot stop bots"
    return ctx.stop_bot(view)
