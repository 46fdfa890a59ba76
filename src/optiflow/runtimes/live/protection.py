"""Exchange-side stop orders so a position stays protected while the bot is down.

Spot: a stop-loss-limit sell; futures: a reduce-only stop-market. A position's stop is
re-placed after every partial exit and cancelled before the bot's own exits; a stop that
filled is booked as the position's SL exit (never sold twice).

A stop is forgotten only once its final state is known. While a placement or a cancel has
no answer the stop stays tracked as ``placing`` or ``cancelling`` (persisted with the engine
state), and every method that finds a fill returns at once with the event, before any
other request or commit, so the caller books the fill in the same commit that drops the stop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.events import Event, Notify, ProtectiveStopFilled
from optiflow.engine.bot import Bot
from optiflow.portfolio.position import round_step
from optiflow.ports.exchange import ExchangeGateway, OrderRequest, OrderUpdate
from optiflow.ports.store import FillRow, OrderRow

log = logging.getLogger("optiflow.protection")
LIMIT_OFFSET = Decimal("0.005")  # spot stop-limit price this far below the trigger
StopStatus = Literal["placing", "open", "cancelling"]
TERMINAL = ("filled", "cancelled", "expired", "rejected")
NOT_FOUND_TO_DROP = 2  # "no such order" answers before a placement is taken as never made


@dataclass(frozen=True, slots=True)
class StopState:
    """The stop order protecting one position, and what we know of it."""

    client_id: str
    position_id: str
    qty: Decimal
    stop: Decimal
    status: StopStatus = "open"
    misses: int = 0  # lookups in a row that answered "no such order"


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
        *,
        retry_ms: int = 30_000,
        retry_max_ms: int = 900_000,
    ) -> None:
        """Stops are placed through ``gateway``; each intent is committed before the request."""
        self.gateway, self.commit, self.now_ms, self.futures = gateway, commit, now_ms, futures
        self.retry_ms, self.retry_max_ms = retry_ms, retry_max_ms
        self.stops: dict[str, StopState] = {}
        self.seq: dict[str, int] = {}
        self.warnings: list[Notify] = []
        self.failed: dict[str, tuple[int, int]] = {}  # position id -> (refusals, next try)
        self.pending_rows: list[OrderRow] = []  # results committed with the engine's booking
        self.pending_fills: list[FillRow] = []
        self._rows: dict[str, OrderRow] = {}  # the stops' store rows, to update them in place
        self._told: set[str] = set()
        self._same: dict[str, tuple[StopState, tuple[Any, ...]]] = {}  # stops found in step
        self.checked = -1  # time of the cycle whose stop checks are done (saved with them)
        # a placement's answer not committed yet: it rides on the next commit, which comes
        # before any other request (``save_pending``); a kill before it is resolved by the
        # start-up's lookup of the ``placing`` stop, as a kill before the answer itself
        self.unsaved = False
        self._resumed = -1  # the saved ``checked`` of a restart, until its first cycle

    def drain(self) -> tuple[list[OrderRow], list[FillRow]]:
        """Rows and fills gathered since the last call (committed with the engine state)."""
        rows, fills = self.pending_rows, self.pending_fills
        self.pending_rows, self.pending_fills = [], []
        self.unsaved = False
        return rows, fills

    def save_pending(self) -> None:
        """Commit a placement's answer still pending (before any further request)."""
        if self.unsaved:
            self.commit([], [])

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for the store."""
        return {
            "stops": {
                s: [v.client_id, v.position_id, str(v.qty), str(v.stop), v.status, v.misses]
                for s, v in self.stops.items()
            },
            "seq": dict(self.seq),
            "failed": {k: list(v) for k, v in self.failed.items()},
            "checked": self.checked,
        }

    def restore(self, snap: dict[str, Any], rows: list[OrderRow] | None = None) -> None:
        """Inverse of ``snapshot``; ``rows`` are the store's order rows of the stops."""
        self.stops = {
            s: StopState(
                v[0],
                v[1],
                Decimal(v[2]),
                Decimal(v[3]),
                v[4] if len(v) > 4 else "open",
                int(v[5]) if len(v) > 5 else 0,
            )
            for s, v in snap.get("stops", {}).items()
        }
        self.seq = {k: int(v) for k, v in snap.get("seq", {}).items()}
        self.failed = {k: (int(v[0]), int(v[1])) for k, v in snap.get("failed", {}).items()}
        self.checked = self._resumed = int(snap.get("checked", -1))
        self._rows = {r.client_id: r for r in rows or [] if r.reason == "protective_stop"}

    def checks_done(self, now: int) -> bool:
        """True (once) in a cycle resumed after a restart whose stop checks were saved."""
        done, self._resumed = self._resumed == now, -1
        return done

    def uncertain(self, symbol: str) -> bool:
        """True while the stop of ``symbol`` was sent or cancelled without an answer yet."""
        st = self.stops.get(symbol)
        return st is not None and st.status != "open"

    # ---- placing -------------------------------------------------------------------
    async def protect(self, bot: Bot, symbol: str, hold: Decimal = Decimal(0)) -> list[Event]:
        """Make the exchange stop match the position (place, re-place or remove it).

        ``hold`` is the quantity already in open exit orders (not covered twice).
        """
        if len(self.seq) > len(bot.positions) + 16:  # numbers of closed positions: never again
            keep = {p.position_id for p in bot.positions.values()}
            keep |= {st.position_id for st in self.stops.values()}
            self.seq = {k: v for k, v in self.seq.items() if k in keep}
        current = self.stops.get(symbol)
        pos = bot.positions.get(symbol)
        same = self._same.get(symbol)
        if (
            same is not None
            and current is same[0]
            and pos is not None
            and same[1] == (pos.stop, pos.qty, hold, bot.limits[symbol])
        ):
            return []  # the open stop matched this very position state last time
        if current is not None and current.status != "open":
            events, settled = await self.settle(bot, symbol)
            if events or not settled:
                return events
            current = self.stops.get(symbol)
        pos = bot.positions.get(symbol)
        if pos is None or pos.qty - hold <= 0:
            if current is None:
                return []
            return (await self.release(bot, symbol))[1]
        tick = bot.limits[symbol].price_tick
        stop = _tick(Decimal(repr(pos.stop)), tick)
        qty = round_step(pos.qty - hold, bot.limits[symbol].amount_step)
        if current is not None and current.qty == qty and current.stop == stop:
            self._same[symbol] = (current, (pos.stop, pos.qty, hold, bot.limits[symbol]))
            return []
        if current is not None:
            settled, events = await self.release(bot, symbol)
            if events or not settled:
                return events  # a fill to book first, or the old stop's state unknown
        now = self.now_ms()
        failed = self.failed.get(pos.position_id)
        if qty <= 0 or (failed is not None and now < failed[1]):
            return []
        return await self._place(bot, symbol, qty, stop, now)

    async def _place(
        self, bot: Bot, symbol: str, qty: Decimal, stop: Decimal, now: int
    ) -> list[Event]:
        pos = bot.positions[symbol]
        tick = bot.limits[symbol].price_tick
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
        intent = OrderRow(
            cid, pos.position_id, symbol, "sell", "protective_stop", qty, Decimal(0), "intent",
            float(stop), now, now,
        )  # fmt: skip
        self._rows[cid] = intent
        # tracked before the request: a timeout or a crash leaves a stop to look up
        self.stops[symbol] = StopState(cid, pos.position_id, qty, stop, "placing")
        self.commit([intent], [])
        try:
            up = await self.gateway.submit_order(req)
        except RetryableError as exc:
            log.warning("stop %s: placement outcome unknown (%s); looked up next cycle", cid, exc)
            return []
        except SkipError as exc:
            self.stops.pop(symbol, None)
            self._refused(pos.position_id, symbol, str(exc), now)
            self.commit([self._row(cid, None, "rejected")], [])
            return []
        self.failed.pop(pos.position_id, None)
        self.stops[symbol] = StopState(cid, pos.position_id, qty, stop, "open")
        self.pending_rows.append(self._row(cid, up, "open"))  # rides on the next commit
        self.unsaved = True
        return []

    def _refused(self, position_id: str, symbol: str, why: str, now: int) -> None:
        """A refused placement: back off (doubling); tell once per position."""
        n = self.failed.get(position_id, (0, 0))[0] + 1
        wait = min(self.retry_ms * 2 ** (n - 1), self.retry_max_ms)
        self.failed[position_id] = (n, now + wait)
        if n == 1:
            self.warnings.append(
                Notify(
                    "stop_failed",
                    symbol,
                    f"⚠️ could not place the exchange stop for {symbol}: {why}; "
                    f"the bot still watches the SL itself; retrying in {wait // 1000} s",
                    now,
                )
            )

    # ---- cancelling and settling ------------------------------------------------------
    async def release(self, bot: Bot, symbol: str) -> tuple[bool, list[Event]]:
        """Cancel the position's stop: (settled, events); a fill comes back as the SL event.

        ``settled`` is False while the stop's final state is unknown: it stays tracked and
        nothing may sell the position until a lookup answers.
        """
        current = self.stops.get(symbol)
        if current is None:
            return True, []
        if current.status != "cancelling":
            self.stops[symbol] = replace(current, status="cancelling")
            self.commit([], [])  # the intent to cancel is durable before the request
        else:
            self.save_pending()
        try:
            up = await self.gateway.cancel_order(symbol, current.client_id)
            if up is None:
                up = await self.gateway.fetch_order(symbol, current.client_id)
        except (RetryableError, SkipError) as exc:
            log.warning("cancel stop %s: final state unknown (%s)", current.client_id, exc)
            return False, []
        return self._settled(symbol, up)

    async def settle(self, bot: Bot, symbol: str) -> tuple[list[Event], bool]:
        """Find out what became of a stop whose placement or cancel had no answer."""
        st = self.stops[symbol]
        if st.status == "cancelling":
            settled, events = await self.release(bot, symbol)
            return events, settled
        self.save_pending()
        try:
            up = await self.gateway.fetch_order(symbol, st.client_id)
        except (RetryableError, SkipError):
            return [], False
        if up is None:
            misses = st.misses + 1
            if misses < NOT_FOUND_TO_DROP:
                self.stops[symbol] = replace(st, misses=misses)
                return [], False
            self.stops.pop(symbol)  # the exchange never got it
            self.pending_rows.append(self._row(st.client_id, None, "rejected"))
            return [], True
        if up.state in ("open", "partial"):
            self.stops[symbol] = replace(st, status="open", misses=0)
            self.pending_rows.append(self._row(st.client_id, up, "open"))
            return [], True
        settled, events = self._settled(symbol, up)
        return events, settled

    def _settled(self, symbol: str, up: OrderUpdate | None) -> tuple[bool, list[Event]]:
        """Drop a stop whose final state is known; its fill (if any) as the engine event."""
        st = self.stops[symbol]
        if up is not None and up.state not in TERMINAL:
            return False, []  # still open after a cancel: not settled
        self.stops.pop(symbol)
        now = self.now_ms()
        if up is None:
            if st.status != "placing":
                log.warning("stop %s: the exchange does not know it any more", st.client_id)
            self.pending_rows.append(self._row(st.client_id, None, "cancelled"))
            return True, []
        status = "filled" if up.state == "filled" else "cancelled"
        if up.state == "rejected":
            status = "rejected"
        self.pending_rows.append(self._row(st.client_id, up, status))
        if up.filled <= 0:
            return True, []
        price = up.avg_price or st.stop
        self.pending_fills.append(
            FillRow(
                f"{st.client_id}#{up.filled}",
                st.client_id,
                symbol,
                "sell",
                up.filled,
                price,
                up.fee_quote,
                up.ts or now,
            )
        )
        return True, [
            ProtectiveStopFilled(st.client_id, symbol, up.filled, price, up.fee_quote, up.ts or now)
        ]

    async def check(self, bot: Bot, symbol: str) -> list[Event]:
        """Each cycle, one stop: settle it if uncertain; book a fill; re-place one that vanished."""
        st = self.stops.get(symbol)
        if st is None:
            return []
        if st.status != "open":
            events, settled = await self.settle(bot, symbol)
            if not settled:
                self._tell_unsure(st, symbol)
            return events
        self.save_pending()
        try:
            up = await self.gateway.fetch_order(symbol, st.client_id)
        except (RetryableError, SkipError):
            return []  # unknown now; checked again next cycle
        if up is not None and up.state in ("open", "partial"):
            return []
        settled, events = self._settled(symbol, up)
        return events

    def _tell_unsure(self, st: StopState, symbol: str) -> None:
        if st.client_id in self._told:
            return
        self._told.add(st.client_id)
        self.warnings.append(
            Notify(
                "stop_unknown",
                symbol,
                f"⚠️ {symbol}: the exchange has not confirmed the state of stop {st.client_id} "
                "(order lookups fail); its position's exits wait until it answers",
                self.now_ms(),
            )
        )

    def _row(self, cid: str, up: OrderUpdate | None, status: str) -> OrderRow:
        """The stop's store row with a new state (always under its own client id)."""
        now = self.now_ms()
        base = self._rows.get(cid)
        if base is None:
            st = next((s for s in self.stops.values() if s.client_id == cid), None)
            base = OrderRow(
                cid,
                st.position_id if st else cid.rsplit("-p", 1)[0],
                up.symbol if up else "",
                "sell",
                "protective_stop",
                st.qty if st else (up.qty if up else Decimal(0)),
                Decimal(0),
                "intent",
                float(st.stop) if st else 0.0,
                now,
                now,
            )
        row = base.updated(
            up.filled if up is not None else base.filled,
            status,
            now,
            (up.exchange_id or None) if up is not None else None,
        )
        if status in ("open", "partial"):
            self._rows[cid] = row
        else:
            self._rows.pop(cid, None)
        return row
