"""What the exchange really did for one position, booked: its trades and the coins it holds.

Used after a restart (for every open position) and when an exit is refused for lack of
funds. Sells of the position's own orders (exits and exchange stops, matched by the
exchange's order id, looked up by client id where the store has none) that the store has
not booked are booked now; a quantity the account no longer holds at all is closed in the
books as ``reconciled`` and never sold. When the exchange cannot be asked, nothing is
concluded: the next check asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, PositionReconciled
from optiflow.engine.bot import Bot
from optiflow.ports.exchange import ExchangeGateway
from optiflow.ports.store import FillRow, Store

log = logging.getLogger("optiflow.backing")
UNSETTLED = ("intent", "unknown", "open", "partial")
D0 = Decimal(0)


async def unbooked_sells(
    *,
    bot: Bot,
    symbol: str,
    gateway: ExchangeGateway,
    store: Store,
    fills: list[FillRow],
    now_ms: int,
    unsaved: list[FillRow] | None = None,
) -> list[Event] | None:
    """Events booking sells of this position the store lacks; None when the exchange is silent.

    ``unsaved`` are fills already booked by the engine but not committed yet.
    """
    pos = bot.positions.get(symbol)
    if pos is None:
        return []
    rows = {
        r.client_id: r
        for r in store.orders()
        if r.position_id == pos.position_id and r.side == "sell" and r.status not in UNSETTLED
    }
    by_exchange_id: dict[str, str] = {}
    try:
        for cid, r in rows.items():
            eid = r.exchange_id
            if not eid:
                up = await gateway.fetch_order(symbol, cid)
                eid = up.exchange_id if up is not None else None
            if eid:
                by_exchange_id[eid] = cid
        trades = await gateway.fetch_my_trades(symbol, pos.ts_entry - 60_000)
    except (RetryableError, SkipError) as exc:
        log.warning("%s: cannot read the exchange's trades now (%s)", symbol, exc)
        return None
    sold: dict[str, list[Any]] = {}
    for t in trades:
        owner = by_exchange_id.get(t.exchange_order_id) or (
            t.client_id if t.client_id in rows else None
        )
        if owner is None or t.side != "sell":
            continue
        agg = sold.setdefault(owner, [D0, D0, D0, 0])
        agg[0] += t.qty
        agg[1] += t.qty * t.price
        agg[2] += t.fee_quote
        agg[3] = max(agg[3], t.ts)
    events: list[Event] = []
    for cid, (qty, quote, fee, ts) in sold.items():
        known = {f.fill_id: f for f in store.fills(cid)}
        known.update((f.fill_id, f) for f in [*(unsaved or []), *fills] if f.client_id == cid)
        booked = sum((f.qty for f in known.values()), D0)
        extra = qty - booked
        if extra <= 0:
            continue
        price = quote / qty
        part_fee = fee * extra / qty
        reason = rows[cid].reason
        booked_as = "sl" if reason == "protective_stop" else reason
        if booked_as == "sl" and pos.stop_is_breakeven:
            booked_as = "sl_breakeven"
        fills.append(FillRow(f"{cid}#{qty}", cid, symbol, "sell", extra, price, part_fee, ts))
        events.append(
            PositionReconciled(
                symbol,
                pos.position_id,
                extra,
                price,
                part_fee,
                ts or now_ms,
                booked_as,
                f"{cid} sold {extra} on the exchange that was never booked",
            )
        )
    return events


async def unbacked(
    *,
    bot: Bot,
    symbol: str,
    gateway: ExchangeGateway,
    held_by_orders: Decimal,
    price: Decimal,
    now_ms: int,
    why: str,
) -> list[Event] | None:
    """A close in the books of what the account no longer holds; None when it cannot tell."""
    pos = bot.positions.get(symbol)
    if pos is None:
        return []
    try:
        balances = await gateway.fetch_balances()
    except (RetryableError, SkipError) as exc:
        log.warning("%s: cannot read the balance now (%s)", symbol, exc)
        return None
    held = balances.get(symbol.split("/")[0], D0) + held_by_orders
    missing = pos.qty - held
    if missing < bot.limits[symbol].amount_step or missing <= 0:
        return []
    return [
        PositionReconciled(
            symbol,
            pos.position_id,
            missing,
            price,
            D0,
            now_ms,
            "reconciled",
            f"{why}; the account holds {held} {symbol.split('/')[0]}, the position {pos.qty}",
        )
    ]


async def reconcile_position(
    *,
    bot: Bot,
    symbol: str,
    gateway: ExchangeGateway,
    store: Store,
    fills: list[FillRow],
    held_by_orders: Callable[[str], Decimal],
    price: Decimal | None,
    spot: bool,
    now_ms: int,
    why: str,
    feed: Callable[[Event], Any],
    unsaved: list[FillRow],
) -> None:
    """Book the position's unbooked sells, then close what the account no longer holds."""
    events = await unbooked_sells(
        bot=bot,
        symbol=symbol,
        gateway=gateway,
        store=store,
        fills=fills,
        now_ms=now_ms,
        unsaved=unsaved,
    )
    if events is None:
        return
    for ev in events:
        await feed(ev)
    pos = bot.positions.get(symbol)
    if pos is None or not spot:
        return
    for ev in (
        await unbacked(
            bot=bot,
            symbol=symbol,
            gateway=gateway,
            held_by_orders=held_by_orders(symbol),
            price=price if price is not None else pos.entry_price,
            now_ms=now_ms,
            why=why,
        )
        or []
    ):
        await feed(ev)


def prices_of(books: Mapping[str, Any]) -> dict[str, Decimal]:
    """Best bids by symbol (the price a reconciled close is booked at)."""
    return {s: Decimal(repr(b.bid)) for s, b in books.items()}
