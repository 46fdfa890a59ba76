"""Exchange-side stop orders so a position stays protected while the bot is down.

Spot: a stop-loss-limit sell; futures: a reduce-only stop-market. A position's stop is
re-placed after every partial exit and cancelled before the bot's own exits; a stop that
filled is booked as the position's SL exit (never sold twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, Notify, ProtectiveStopFilled
from optiflow.engine.bot import Bot
from optiflow.portfolio.position import round_step
from optiflow.ports.exchange import ExchangeGateway, OrderRequest, OrderUpdate
from optiflow.ports.store import FillRow, OrderRow

log = logging.getLogger("optiflow.protection")
LIMIT_OFFSET = Decimal("0.005")  # spot stop-limit price this far below the trigger


@dataclass(frozen=True, slots=True)
class StopState:
    """The stop order currently protecting one position."""

    client_id: str
    position_id: str
    qty: Decimal
    stop: Decimal


def _tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_DOWN) * tick if tick > 0 else price


class Protector:
    """Keeps one exchange stop per open position in step with the engine's stop level."""

    def __init__(
        self,
        gateway: ExchangeGateway,
        commit: Callable[[list[OrderRow], list[FillRow]], None],
        now_ms: Callable[[], int],
        futures: bool = False,
    ) -> None:
        """Stops are placed through ``gateway``; each intent is committed before the request."""
        self.gateway, self.commit, self.now_ms, self.futures = gateway, commit, now_ms, futures
        self.stops: dict[str, StopState] = {}
        self.seq: dict[str, int] = {}
        self.warnings: list[Notify] = []

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for the store."""
        return {
            "stops": {
                s: [v.client_id, v.position_id, str(v.qty), str(v.stop)]
                for s, v in self.stops.items()
            },
            "seq": dict(self.seq),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        """Inverse of ``snapshot``."""
        self.stops = {
            s: StopState(v[0], v[1], Decimal(v[2]), Decimal(v[3]))
            for s, v in snap.get("stops", {}).items()
        }
        self.seq = {k: int(v) for k, v in snap.get("seq", {}).items()}

    async def protect(self, bot: Bot, symbol: str) -> list[Event]:
        """Make the exchange stop match the position (place, re-place or remove it)."""
        pos = bot.positions.get(symbol)
        current = self.stops.get(symbol)
        if pos is None or pos.qty <= 0:
            return await self.release(bot, symbol) if current else []
        tick = bot.limits[symbol].price_tick
        stop = _tick(Decimal(repr(pos.stop)), tick)
        qty = round_step(pos.qty, bot.limits[symbol].amount_step)
        if current is not None and current.qty == qty and current.stop == stop:
            return []
        events = await self.release(bot, symbol) if current else []
        if symbol not in bot.positions:
            return events  # the old stop had filled meanwhile
        n = self.seq.get(pos.position_id, 0) + 1
        self.seq[pos.position_id] = n
        cid = f"{pos.position_id}-p{n}"
        req = OrderRequest(
            cid,
            symbol,
            "sell",
            "stop_market" if self.futures else "stop_loss_limit",
            qty,
            None if self.futures else _tick(stop * (1 - LIMIT_OFFSET), tick),
            stop,
            self.futures,
        )
        now = self.now_ms()
        intent = OrderRow(
            cid,
            pos.position_id,
            symbol,
            "sell",
            "protective_stop",
            qty,
            Decimal(0),
            "intent",
            float(stop),
            now,
            now,
        )
        self.commit([intent], [])
        up: OrderUpdate | None
        try:
            up = await self.gateway.submit_order(req)
        except RetryableError:
            up = await self.gateway.fetch_order(symbol, cid)
        except SkipError as exc:
            self.warnings.append(
                Notify(
                    "stop_failed",
                    symbol,
                    f"⚠️ could not place the exchange stop for {symbol}: {exc}",
                    now,
                )
            )
            self.commit([intent.updated(Decimal(0), "rejected", now)], [])
            return events
        if up is not None:
            self.stops[symbol] = StopState(cid, pos.position_id, qty, stop)
            self.commit([_row(up, pos.position_id, float(stop), now)], [])
        return events

    async def release(self, bot: Bot, symbol: str) -> list[Event]:
        """Cancel the position's stop; if it already (partly) filled, book that as the SL."""
        current = self.stops.pop(symbol, None)
        if current is None:
            return []
        try:
            up = await self.gateway.cancel_order(symbol, current.client_id)
            if up is None:
                up = await self.gateway.fetch_order(symbol, current.client_id)
        except (RetryableError, SkipError) as exc:
            log.warning("cancel stop %s: %s", current.client_id, exc)
            up = None
        now = self.now_ms()
        if up is None:
            return []
        self.commit([_row(up, current.position_id, float(current.stop), now)], [])
        if up.filled > 0:
            return [
                ProtectiveStopFilled(
                    current.client_id,
                    symbol,
                    up.filled,
                    up.avg_price or current.stop,
                    up.fee_quote,
                    up.ts or now,
                )
            ]
        return []

    async def reconcile(self, bot: Bot) -> list[Event]:
        """On start: book stops that filled while down, and protect every open position."""
        events: list[Event] = []
        for symbol, st in list(self.stops.items()):
            try:
                up = await self.gateway.fetch_order(symbol, st.client_id)
            except RetryableError:
                continue
            if up is not None and up.filled > 0 and up.state in ("filled", "partial"):
                self.stops.pop(symbol)
                events.append(
                    ProtectiveStopFilled(
                        st.client_id,
                        symbol,
                        up.filled,
                        up.avg_price or st.stop,
                        up.fee_quote,
                        up.ts or self.now_ms(),
                    )
                )
            elif up is None or up.state not in ("open", "partial"):
                self.stops.pop(symbol)
        return events

    async def check(self, bot: Bot) -> list[Event]:
        """Each cycle: book stops that filled; re-place stops that vanished (cancelled)."""
        events: list[Event] = []
        for symbol, st in list(self.stops.items()):
            try:
                up = await self.gateway.fetch_order(symbol, st.client_id)
            except (RetryableError, SkipError):
                continue  # unknown now; checked again next cycle
            if up is not None and up.state == "open":
                continue
            if up is not None and up.filled > 0:
                events += await self.release(bot, symbol)
            else:
                self.stops.pop(symbol)
                events += await self.protect(bot, symbol)
        return events

    async def protect_all(self, bot: Bot) -> list[Event]:
        """Place or refresh the stop of every open position."""
        events: list[Event] = []
        for symbol in list(bot.positions):
            events += await self.protect(bot, symbol)
        return events


def _row(up: OrderUpdate, position_id: str, stop: float, now: int) -> OrderRow:
    status = {"open": "open", "partial": "partial", "filled": "filled"}.get(
        up.state, "cancelled" if up.state in ("cancelled", "expired") else "rejected"
    )
    return OrderRow(
        up.client_id,
        position_id,
        up.symbol,
        "sell",
        "protective_stop",
        up.qty,
        up.filled,
        status,
        stop,
        now,
        now,
        up.exchange_id,
    )
