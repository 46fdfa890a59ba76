"""Carries the engine's orders to an exchange with the durability discipline of live trading.

For every order the intent is committed to the store BEFORE the request (``commit``); the
result is gathered and committed by the runtime together with the engine state that
applied it, so a crash in between leaves an intent that recovery resolves on the exchange.
A request whose outcome is unknown (timeout, connection lost) is resolved by looking the
order up by its client id, never by sending it again; while no lookup answers, the order
stays ``unknown`` (tracked, polled every cycle, its position's exits blocked) and is never
assumed to have failed. Fills are applied once (by cumulative quantity), so a repeated
status read cannot double-book.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, OrderFilled, OrderRejected, SubmitOrder
from optiflow.ports.exchange import ExchangeGateway, OrderRequest, OrderUpdate
from optiflow.ports.store import FillRow, OrderRow

log = logging.getLogger("optiflow.execution")

Commit = Callable[[list[OrderRow], list[FillRow]], None]


@dataclass(slots=True)
class Inflight:
    """What we know of one order the exchange has (or may have)."""

    row: OrderRow
    avg: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_base: Decimal = Decimal(0)
    misses: int = 0  # lookups in a row that answered "no such order"


NOT_FOUND_TO_REJECT = 2  # "no such order" answers, a cycle apart, before an unknown is dropped


@dataclass(slots=True)
class Executor:
    """Submits, resolves and polls orders; returns engine events for what happened."""

    gateway: ExchangeGateway
    commit: Commit
    now_ms: Callable[[], int]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    lookup_attempts: int = 6
    lookup_delay_s: float = 0.5
    inflight: dict[str, Inflight] = field(default_factory=dict)
    pending_rows: list[OrderRow] = field(default_factory=list)  # results not yet committed
    pending_fills: list[FillRow] = field(default_factory=list)

    def drain(self) -> tuple[list[OrderRow], list[FillRow]]:
        """Results gathered since the last call (the runtime commits them with the engine)."""
        rows, fills = self.pending_rows, self.pending_fills
        self.pending_rows, self.pending_fills = [], []
        return rows, fills

    def track(self, row: OrderRow, fills: list[FillRow] | None = None) -> None:
        """Follow an order known from the store (recovery), with the fills already booked.

        A partly filled order's average price and fee so far are those of its booked fills,
        so the rest is booked at its own price when the exchange reports more.
        """
        fl = Inflight(row)
        got = sum((f.qty for f in fills or []), Decimal(0))
        if got > 0:
            fl.avg = sum((f.qty * f.price for f in fills or []), Decimal(0)) / got
            fl.fee = sum((f.fee for f in fills or []), Decimal(0))
        self.inflight[row.client_id] = fl

    def unknown_positions(self) -> set[str]:
        """Positions with an order whose outcome no lookup has answered yet."""
        return {fl.row.position_id for fl in self.inflight.values() if fl.row.status == "unknown"}

    def open_sells(self, position_id: str) -> Decimal:
        """Quantity of this position's exit orders the exchange may still be holding."""
        return sum(
            (
                fl.row.qty - fl.row.filled
                for fl in self.inflight.values()
                if fl.row.position_id == position_id and fl.row.side == "sell"
            ),
            Decimal(0),
        )

    def mark_unknown(self, client_id: str, why: str) -> None:
        """No lookup answered: keep the order, unknown, until one does."""
        fl = self.inflight[client_id]
        fl.row = fl.row.updated(fl.row.filled, "unknown", self.now_ms())
        self.pending_rows.append(fl.row)
        log.warning("%s: outcome unknown (%s); blocked until a lookup answers", client_id, why)

    async def submit(self, cmd: SubmitOrder) -> list[Event]:
        """Intent → commit → request → result → commit; the engine events to feed back."""
        row = OrderRow(
            cmd.client_id,
            cmd.position_id,
            cmd.symbol,
            cmd.side,
            cmd.reason,
            cmd.qty,
            Decimal(0),
            "intent",
            cmd.ref_price,
            cmd.ts,
            cmd.ts,
        )
        self.commit([row], [])  # durable before the exchange hears of it
        self.inflight[cmd.client_id] = Inflight(row)
        req = OrderRequest(
            cmd.client_id, cmd.symbol, cmd.side, "market", cmd.qty, ref_price=cmd.ref_price
        )
        try:
            update: OrderUpdate | None = await self.gateway.submit_order(req)
        except SkipError as exc:
            return self._rejected(cmd.client_id, str(exc), refused=True)
        except RetryableError as exc:
            log.warning("submit %s: outcome unknown (%s); looking it up", cmd.client_id, exc)
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:  # a 429/418 said how long to stay away: the lookup waits too
                await self.sleep(retry_after)
            update, known = await self.resolve(cmd.symbol, cmd.client_id)
            if not known:
                self.mark_unknown(cmd.client_id, str(exc))
                return []
            if update is None:
                return self._rejected(cmd.client_id, "not placed (exchange has no such order)")
        assert update is not None
        return self.apply(update)

    async def resolve(self, symbol: str, client_id: str) -> tuple[OrderUpdate | None, bool]:
        """Look up an order whose outcome is unknown: (its status or None, whether anyone answered).

        ``(None, True)``: the exchange answered, repeatedly, that it has no such order.
        ``(None, False)``: no lookup got an answer; the outcome stays unknown.
        """
        answered = False
        for attempt in range(self.lookup_attempts):
            try:
                found = await self.gateway.fetch_order(symbol, client_id)
            except RetryableError:
                await self.sleep(self.lookup_delay_s * (2**attempt))
                continue
            answered = True
            if found is not None:
                return found, True
            await self.sleep(self.lookup_delay_s * (2**attempt))
        return None, answered

    def apply(self, update: OrderUpdate) -> list[Event]:
        """Turn an order status into engine events (only the quantity not applied yet)."""
        fl = self.inflight.get(update.client_id)
        if fl is None:
            return []
        events: list[Event] = []
        fills: list[FillRow] = []
        delta = update.filled - fl.row.filled
        if delta > 0:
            avg = update.avg_price or Decimal(0)
            price = (avg * update.filled - fl.avg * fl.row.filled) / delta
            fee = update.fee_quote - fl.fee
            # a fee taken in the base asset means we received that much less of it
            received = delta - (update.fee_base - fl.fee_base)
            at = update.ts or self.now_ms()
            fills.append(
                FillRow(
                    f"{update.client_id}#{update.filled}",
                    update.client_id,
                    update.symbol,
                    update.side,
                    received,
                    price,
                    fee,
                    at,
                )
            )
            events.append(
                OrderFilled(
                    update.client_id,
                    update.symbol,
                    update.side,
                    received,
                    price,
                    fee,
                    at,
                    last=update.state == "filled",
                )
            )
            fl.avg, fl.fee, fl.fee_base = avg, update.fee_quote, update.fee_base
        status = {"open": "open", "partial": "partial", "filled": "filled"}.get(
            update.state, "cancelled" if update.state in ("cancelled", "expired") else "rejected"
        )
        fl.row = fl.row.updated(update.filled, status, self.now_ms(), update.exchange_id)
        self.pending_rows.append(fl.row)
        self.pending_fills += fills
        if status in ("filled", "cancelled", "rejected"):
            del self.inflight[update.client_id]
            if status != "filled" and update.filled < fl.row.qty:
                events.append(
                    OrderRejected(
                        update.client_id,
                        update.symbol,
                        f"order {status} with {update.filled} filled",
                        self.now_ms(),
                        refused=True,
                    )
                )
        return events

    def _rejected(self, client_id: str, reason: str, refused: bool = False) -> list[Event]:
        fl = self.inflight.pop(client_id)
        row = fl.row.updated(fl.row.filled, "rejected", self.now_ms())
        self.pending_rows.append(row)
        return [OrderRejected(client_id, row.symbol, reason, self.now_ms(), refused=refused)]

    async def poll(self) -> list[Event]:
        """Re-read every order still open or unknown (partial fills, late fills, late answers)."""
        events: list[Event] = []
        for cid, fl in list(self.inflight.items()):
            try:
                up = await self.gateway.fetch_order(fl.row.symbol, cid)
            except (RetryableError, SkipError):
                continue  # still unknown: asked again next cycle
            if up is not None:
                fl.misses = 0
                events += self.apply(up)
            elif fl.row.status in ("intent", "unknown"):
                fl.misses += 1  # the exchange answers it has no such order
                if fl.misses >= NOT_FOUND_TO_REJECT:
                    events += self._rejected(
                        cid, "not placed (exchange has no such order)", refused=True
                    )
        return events
