"""Start-up reconciliation of a live/paper bot with its exchange: starting is recovering.

Orders in flight are looked up by client id and their fills applied; an intent the exchange
answers it never received is dropped, one no lookup answers stays ``unknown`` (never assumed
failed); exchange stops are settled and stops that filled while the bot was down are booked;
every open position is checked against the exchange's trades for its own orders and the coins
the account holds; unknown open orders carrying this bot's prefix are adopted and reported;
a shortfall of the bot's cash on the exchange is reported, never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from optiflow.config.models import BotConfig
from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, OrderRejected
from optiflow.engine.bot import Bot
from optiflow.engine.settings import EngineSettings
from optiflow.ports.clock import Clock
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.store import OrderRow, Store
from optiflow.runtimes.live.executor import Executor
from optiflow.runtimes.live.exit_guard import ExitGuard
from optiflow.runtimes.live.protection import StopState


class Recovering(Protocol):
    """What reconciliation needs of a runtime (the live runtime provides it)."""

    cfg: BotConfig
    settings: EngineSettings
    mode: Literal["paper", "live", "rehearsal"]
    store: Store
    orders: ExchangeGateway
    executor: Executor
    guard: ExitGuard
    clock: Clock
    continuing: dict[str, str]  # client id -> symbol: orders the runtime carries on itself

    async def feed(self, ev: Event) -> None: ...

    def _bot(self) -> Bot: ...

    def _note(self, kind: str, symbol: str, text: str, immediate: bool = True) -> None: ...


async def reconcile(rt: Recovering, recovering: bool) -> None:
    """Compare the store with the exchange; apply what happened, report what does not add up."""
    bot = rt._bot()
    found = await _resolve_orders(rt)
    await _drop_unsent(rt)
    if rt.guard.protector is not None:
        protector = rt.guard.protector
        tracked = {s.client_id for s in protector.stops.values()}
        for row in rt.store.orders(("intent", "open", "partial", "unknown")):
            # a stop the snapshot lost track of (older versions): settle it like the others
            if (
                row.reason == "protective_stop"
                and row.client_id not in tracked
                and row.symbol not in protector.stops
            ):
                protector.stops[row.symbol] = _stop_state(row)
                tracked.add(row.client_id)
        for symbol in list(protector.stops):
            for ev in await protector.check(bot, symbol):
                await rt.feed(ev)
        going_on = set(rt.continuing.values())  # their orders go on first, then the checks
        for symbol in sorted(bot.positions):
            if symbol not in going_on:
                await rt.guard.check_backing(symbol, "found at start-up")
        for symbol in sorted(bot.positions):
            if symbol not in going_on:
                await rt.guard.protect(symbol)
        rt.guard.flush()
        protector.save_pending()  # before the lookups below
    await _adopt(rt)
    if recovering:
        rt._note(
            "recovery",
            "",
            f"♻️ {rt.cfg.name} recovered: {len(bot.positions)} "
            f"position(s) {sorted(bot.positions)}, orders resolved: "
            f"{'; '.join(found) or 'none'}",
            immediate=True,
        )
    else:
        rt._note(
            "start",
            "",
            f"▶️ {rt.cfg.name} starting ({rt.mode}) on {', '.join(rt.cfg.pairs)}, "
            f"balance {bot.cash:.2f} USDT",
            immediate=True,
        )
    await check_balance(rt)


def _stop_state(row: OrderRow) -> StopState:
    return StopState(
        row.client_id,
        row.position_id,
        row.qty,
        Decimal(repr(row.ref_price)),
        "placing" if row.status == "intent" else "open",
    )


async def _resolve_orders(rt: Recovering) -> list[str]:
    """Look up every order of ours the store left in flight; apply what the exchange says."""
    found = []
    for row in rt.store.orders(("intent", "open", "partial", "unknown")):
        if row.reason == "protective_stop" or row.client_id in rt.continuing:
            continue
        rt.executor.track(row, rt.store.fills(row.client_id) if row.filled > 0 else None)
        up, known = await rt.executor.resolve(row.symbol, row.client_id)
        events: list[Event] = []
        if not known:
            rt.executor.mark_unknown(row.client_id, "no lookup answered at start-up")
            found.append(f"{row.client_id}: unknown (lookups fail; blocked until they answer)")
            continue
        if up is None:
            events = [
                OrderRejected(
                    row.client_id, row.symbol, "never reached the exchange", row.ts_updated
                )
            ]
            rt.executor.inflight.pop(row.client_id, None)
            rt.executor.pending_rows.append(row.updated(row.filled, "rejected", row.ts_updated))
        else:
            events = list(rt.executor.apply(up))
        found.append(f"{row.client_id}: {'not placed' if up is None else up.state}")
        for ev in events:
            await rt.feed(ev)
    return found


async def _drop_unsent(rt: Recovering) -> None:
    """Engine orders the store never recorded and no exit waits for were never sent.

    (A crash between the decision and its intent's commit.) The engine is told, so it
    decides again instead of holding their quantity pending for ever.
    """
    bot = rt._bot()
    rows = {r.client_id for r in rt.store.orders()}
    waiting = {c.client_id for cmds in rt.guard.deferred.values() for c in cmds}
    waiting |= set(rt.continuing)
    for cid, rec in list(bot.orders.items()):
        if cid not in rows and cid not in waiting and cid not in rt.executor.inflight:
            await rt.feed(
                OrderRejected(cid, rec.symbol, "never sent (restart)", rt.clock.now_ms())
            )


async def _adopt(rt: Recovering) -> None:
    """Open orders with our prefix that the store does not know: adopt and report them."""
    try:
        open_orders = await rt.orders.fetch_open_orders(None)
    except (RetryableError, SkipError):
        open_orders = []
    known = {r.client_id for r in rt.store.orders()}
    for o in open_orders:
        if o.client_id.startswith(rt.settings.prefix + "-") and o.client_id not in known:
            rt.executor.pending_rows.append(
                OrderRow(
                    o.client_id,
                    "adopted",
                    o.symbol,
                    o.side,
                    "adopted",
                    o.qty,
                    o.filled,
                    "open",
                    float(o.avg_price or 0),
                    o.ts,
                    o.ts,
                    o.exchange_id,
                )
            )
            rt._note(
                "adopted",
                o.symbol,
                f"⚠️ adopted unknown order {o.client_id} "
                f"({o.side} {o.qty} {o.symbol}, {o.state}): please check it",
            )


async def check_balance(rt: Recovering) -> None:
    """Live only: report when the exchange holds less free USDT than this bot's own free cash.

    On an account shared by several bots the exchange holds more than any one bot owns, so
    only a shortfall says something is wrong; it is reported, never adjusted.
    """
    bot = rt._bot()
    if rt.mode != "live":
        return
    try:
        balances = await rt.orders.fetch_balances()
    except (RetryableError, SkipError) as exc:
        rt._note("error", "", f"balance check failed: {exc}")
        return
    free = balances.get("USDT", Decimal(0))
    own = bot.cash - bot.reserved
    tolerance = max(Decimal(1), own / 100)
    if free < own - tolerance:
        rt._note(
            "balance_mismatch",
            "",
            f"⚠️ exchange free USDT {free} is less than this bot's free cash "
            f"{own:.2f}: not adjusted, please check",
        )
