"""Start-up reconciliation of a live/paper bot with its exchange: starting is recovering.

Orders in flight are looked up by client id and their fills applied; an intent the exchange
never received is dropped; stops that filled while the bot was down are booked; unknown open
orders carrying this bot's prefix are adopted and reported; a balance mismatch is reported,
never guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, OrderRejected
from optiflow.ports.store import OrderRow

if TYPE_CHECKING:
    from optiflow.app.live import LiveRuntime


async def reconcile(rt: LiveRuntime, recovering: bool) -> None:
    """Compare the store with the exchange; apply what happened, report what does not add up."""
    bot = rt._bot()
    found = []
    for row in rt.store.orders(("intent", "open", "partial")):
        if row.reason == "protective_stop":
            continue
        rt.executor.track(row)
        up = await rt.executor.resolve(row.symbol, row.client_id)
        if up is None:
            events: list[Event] = [
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
    if rt.protector is not None:
        for ev in await rt.protector.reconcile(bot):
            await rt.feed(ev)
        for ev in await rt.protector.protect_all(bot):
            await rt.feed(ev)
        rt._flush_warnings()
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
            f"▶️ {rt.cfg.name} starting ({rt.mode}) on {', '.join(rt.cfg.pairs)}",
            immediate=True,
        )
    await check_balance(rt)


async def check_balance(rt: LiveRuntime) -> None:
    """Live only: report a free-balance mismatch with the exchange (never adjust it)."""
    bot = rt._bot()
    if rt.mode != "live":
        return
    try:
        balances = await rt.orders.fetch_balances()
    except (RetryableError, SkipError) as exc:
        rt._note("error", "", f"balance check failed: {exc}")
        return
    free = balances.get("USDT")
    tolerance = max(Decimal(1), free / 100) if free is not None else Decimal(0)
    if free is not None and abs(free - (bot.cash - bot.reserved)) > tolerance:
        rt._note(
            "balance_mismatch",
            "",
            f"⚠️ exchange free USDT {free} vs bot's "
            f"{bot.cash - bot.reserved:.2f}: not adjusted, please check",
        )
