"""The exit side of the engine: the ladder on every price, exit fills, stop fills, refusals.

A mixin of ``Bot`` (engine/bot.py), split out by size; pure like the rest of the engine:
no I/O, no clock, time only from events.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from functools import partial

from optiflow.decisions import ladder
from optiflow.domain.events import (
    CancelOrder,
    Command,
    LazyNotify,
    Notify,
    OrderFilled,
    OrderRejected,
    PositionReconciled,
    PriceTicked,
    ProtectiveStopFilled,
    RequestScan,
    StopRequested,
    SubmitOrder,
)
from optiflow.domain.market import MarketLimits
from optiflow.domain.records import builder
from optiflow.domain.results import ExitRow
from optiflow.engine.settings import EngineSettings
from optiflow.execution.orders import OrderRecord, OrderStatus
from optiflow.filters import timing
from optiflow.portfolio.position import Position, evolve, exit_fee_share, net_pnl

REASON_CODES = {
    "sl": "sl",
    "sl_breakeven": "be",
    "max_hold": "mh",
    "auto_profit": "ap",
    "tp2": "t2",
    "tp1": "t1",
    "step_1": "s1",
    "step_2": "s2",
    "step_3": "s3",
    "step_4": "s4",
    "timeout": "to",
    "manual": "ma",
    "shutdown": "sd",
    "end_of_data": "ed",
    "reconciled": "rc",
}
_ZERO = Decimal(0)
_exit_row = builder(ExitRow)  # these build their record at half the cost, every field
_submit = builder(SubmitOrder)  # in order (domain/records.py)
_order = builder(OrderRecord)
INTENT = OrderStatus.INTENT


def _exit_text(reason: str, ev: OrderFilled, pnl: Decimal) -> str:
    """``TP2 SYM qty @ price net pnl``: the text of an exit fill's note."""
    return f"{reason.upper()} {ev.symbol} {ev.qty} @ {ev.price} net {pnl:.4f}"


class ExitBook:
    """Everything that closes positions; the state it uses lives on ``Bot``."""

    s: EngineSettings
    limits: dict[str, MarketLimits]
    cash: Decimal
    reserved: Decimal
    positions: dict[str, Position]
    entry_orders: dict[str, str]
    orders: dict[str, OrderRecord]
    exit_seq: dict[str, int]
    exit_block: dict[str, tuple[int, int]]
    last_trade: dict[str, int]
    blacklist: timing.Blacklist
    exits: list[ExitRow]
    equity_points: list[tuple[int, Decimal]]
    _bands: dict[str, tuple[float, float, int | None]]

    def realized_equity(self) -> Decimal:
        """Cash plus open positions at cost (realised view; no mark-to-market)."""
        held = _ZERO  # the same additions, in the same order, as sum(..., Decimal(0))
        for p in self.positions.values():
            held += p.entry_price * p.qty
        return self.cash + held


    def ignores_price(self, symbol: str, ts: int, price: float) -> bool:
        """True when a price of ``symbol`` at ``ts`` can change nothing: no position, its
        exits backing off, or inside its trigger band (``PriceTicked`` returns no command)."""
        pos = self.positions.get(symbol)
        if pos is None:
            return True
        if self.exit_block:
            blocked = self.exit_block.get(pos.position_id)
            if blocked is not None and ts < blocked[1]:
                return True  # the exchange refused this position's last exit: backing off
        band = self._bands.get(symbol)  # self.band(symbol, ts), inlined: every price asks
        if band is None or band[2] is not None and ts >= band[2]:
            band = self._bands[symbol] = ladder.triggers(pos, ts)
        return band[0] < price < band[1] and (band[2] is None or ts < band[2])

    def band(self, symbol: str, ts: int) -> tuple[float, float, int | None]:
        """``triggers`` of ``symbol``'s open position at ``ts``, kept until its state or the
        deadline changes it (a later ``ts`` gives the same band until the deadline)."""
        band = self._bands.get(symbol)
        if band is None or band[2] is not None and ts >= band[2]:
            band = self._bands[symbol] = ladder.triggers(self.positions[symbol], ts)
        return band

    def _on_price(self, ev: PriceTicked) -> list[Command]:
        if self.ignores_price(ev.symbol, ev.ts, ev.price):
            return []  # e.g. inside the trigger band: the ladder cannot act
        pos = self.positions[ev.symbol]
        new, decisions = ladder.evaluate_sweep(
            pos, ev.price, ev.ts, ev.swept_from, self.s.ladder, self.limits[ev.symbol].amount_step
        )
        if new is not pos:
            self.positions[ev.symbol] = new
            self._bands.pop(ev.symbol, None)
        return [self._exit_order(new, d.reason, d.qty, d.ref_price, ev.ts) for d in decisions]

    def _exit_order(
        self, pos: Position, reason: str, qty: Decimal, ref: float, ts: int
    ) -> SubmitOrder:
        n = self.exit_seq.get(pos.position_id, 0) + 1
        self.exit_seq[pos.position_id] = n
        cid = f"{pos.position_id}-{n}{REASON_CODES[reason]}"
        self.orders[cid] = _order(  # OrderRecord(cid, id, symbol, "sell", reason, qty)
            cid, pos.position_id, pos.symbol, "sell", reason, qty, _ZERO, INTENT, _ZERO, ""
        )
        return _submit(cid, pos.symbol, "sell", qty, ref, pos.position_id, reason, ts)

    def _exit_filled(self, info: OrderRecord, ev: OrderFilled) -> list[Command]:
        pos = self.positions[ev.symbol]
        fees = exit_fee_share(pos, ev.qty) + ev.fee
        pnl = net_pnl(pos.entry_price, ev.price, ev.qty, fees)
        self.cash += ev.qty * ev.price - ev.fee
        self.exits.append(
            _exit_row(  # ExitRow(...), every field in order
                self.s.name,
                ev.symbol,
                pos.position_id,
                pos.ts_entry,
                ev.ts,  # ts_exit
                pos.entry_price,
                ev.price,  # exit_price
                ev.qty,
                fees,
                pnl,  # net_pnl
                info.reason,
                pos.signals,
            )
        )
        qty, pending = pos.qty - ev.qty, max(_ZERO, pos.pending_exit - ev.qty)
        self._bands.pop(ev.symbol, None)
        if self.exit_block:
            self.exit_block.pop(pos.position_id, None)
        out: list[Command] = [  # the text is formatted when read (a backtest reads none)
            LazyNotify(
                info.reason, ev.symbol, partial(_exit_text, info.reason, ev, pnl), ev.ts
            )
        ]
        if qty >= self.limits[ev.symbol].amount_step or pending > 0:
            self.positions[ev.symbol] = evolve(pos, qty=qty, pending_exit=pending)
        else:  # closed (a remainder under one lot step is dust the exchange cannot sell)
            del self.positions[ev.symbol]
            for cid in [c for c, o in self.orders.items() if o.position_id == pos.position_id]:
                del self.orders[cid]  # exit orders of a closed position can fill no more
            self.last_trade[ev.symbol] = max(self.last_trade.get(ev.symbol, ev.ts), ev.ts)
            bl = self.blacklist
            if info.reason == "sl" and bl.stop_losses is not None and bl.record_stop_loss(
                ev.symbol, ev.ts
            ):
                out.append(
                    Notify(
                        "blacklist_on",
                        ev.symbol,
                        f"{ev.symbol} paused after {self.s.blacklist_sl} stop-losses",
                        ev.ts,
                    )
                )
            if self.s.reactive_entry and info.reason not in ("shutdown", "end_of_data"):
                out.append(RequestScan(ev.ts))
        self.equity_points.append((ev.ts, self.realized_equity()))
        return out

    def _on_protective_stop(self, ev: ProtectiveStopFilled) -> list[Command]:
        """Book a fill of the exchange-side stop as this position's SL exit."""
        pos = self.positions.get(ev.symbol)
        if pos is None:
            return [
                Notify(
                    "unknown_fill", ev.symbol, f"stop fill {ev.client_id} but no position", ev.ts
                )
            ]
        reason = "sl_breakeven" if pos.stop_is_breakeven else "sl"
        qty = min(ev.qty, pos.qty)
        info = OrderRecord(ev.client_id, pos.position_id, ev.symbol, "sell", reason, qty)
        # the exchange sold it: exit orders of ours still pending are void (the runtime
        # cancels or rejects them), so only the stop's quantity is pending now
        self.positions[ev.symbol] = evolve(pos, pending_exit=qty)
        return self._exit_filled(
            info, OrderFilled(ev.client_id, ev.symbol, "sell", qty, ev.price, ev.fee, ev.ts)
        )

    def _on_reconciled(self, ev: PositionReconciled) -> list[Command]:
        """Close what the exchange no longer backs, in the books only (nothing is sold)."""
        pos = self.positions.get(ev.symbol)
        if pos is None or pos.position_id != ev.position_id:
            return []
        qty = min(ev.qty, pos.qty)
        info = OrderRecord(
            f"{pos.position_id}-rc", pos.position_id, ev.symbol, "sell", ev.reason, qty
        )
        self.positions[ev.symbol] = evolve(pos, pending_exit=pos.pending_exit + qty)
        out = self._exit_filled(
            info, OrderFilled(info.client_id, ev.symbol, "sell", qty, ev.price, ev.fee, ev.ts)
        )
        told = out[0]
        assert isinstance(told, Notify)
        out[0] = replace(
            told,
            text=f"⚠️ {told.text} of position {pos.position_id}: "
            f"{ev.why or 'sold outside this bot'}; booked from the exchange's records, "
            "nothing sold",
        )
        return out

    def _exit_refused(self, pos: Position, info: OrderRecord, ev: OrderRejected) -> list[Command]:
        """Back off a refused exit (doubling waits); tell once, escalate once."""
        s = self.s
        n = self.exit_block.get(pos.position_id, (0, 0))[0] + 1
        wait = min(s.exit_retry_ms * 2 ** (n - 1), s.exit_retry_max_ms)
        self.exit_block[pos.position_id] = (n, ev.ts + wait)
        if n == 1:
            return [
                Notify(
                    "order_rejected",
                    ev.symbol,
                    f"{info.reason} order {ev.client_id} rejected: {ev.reason}; "
                    f"retrying in {wait // 1000} s",
                    ev.ts,
                )
            ]
        if n == s.exit_escalate_after:
            return [
                Notify(
                    "exit_failing",
                    ev.symbol,
                    f"🚨 {ev.symbol}: the exchange refused {n} exits of position "
                    f"{pos.position_id} in a row (last: {ev.reason}). The position is NOT "
                    "closed: please check the account; retrying every "
                    f"{min(s.exit_retry_ms * 2**n, s.exit_retry_max_ms) // 1000} s at most",
                    ev.ts,
                )
            ]
        return []

    def _on_stop(self, ev: StopRequested) -> list[Command]:
        out: list[Command] = []
        for sym, cid in sorted(self.entry_orders.items()):
            out.append(CancelOrder(cid, sym, ev.ts))
            info = self.orders.pop(cid, None)  # already settled: nothing left to release
            if info is not None:
                self.reserved -= info.reserved
        self.entry_orders.clear()
        for sym in sorted(self.positions):
            pos = self.positions[sym]
            if pos.closable > 0:
                self._bands.pop(sym, None)
                self.positions[sym] = evolve(pos, pending_exit=pos.qty)
                out.append(self._exit_order(pos, ev.reason, pos.closable, 0.0, ev.ts))
        return out
