"""The order state machine: intent → submitted → partially filled → filled/cancelled/rejected."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from optiflow.domain.records import builder


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    INTENT = "intent"  # decided and stored, not yet acknowledged by the exchange
    OPEN = "open"  # acknowledged, nothing filled
    PARTIAL = "partial"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class OrderTransitionError(ValueError):
    """An event that cannot happen to an order in its current state."""


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One order the engine asked for, and what has happened to it."""

    client_id: str
    position_id: str
    symbol: str
    side: str
    reason: str
    qty: Decimal
    filled: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.INTENT
    reserved: Decimal = Decimal(0)
    signals: str = ""  # an entry's signal combination ("p1+c1", see signals.oneplusone.fired)

    @property
    def remaining(self) -> Decimal:
        """Quantity not filled yet."""
        return self.qty - self.filled

    @property
    def done(self) -> bool:
        """True once the order can change no more."""
        return self.status in TERMINAL

    def acknowledged(self) -> OrderRecord:
        """The exchange accepted the order."""
        if self.status is not OrderStatus.INTENT:
            return self
        return replace(self, status=OrderStatus.OPEN)

    def completed_by(self, qty: Decimal) -> bool:
        """Whether a fill of ``qty`` (capped at what remains) finishes the order: what
        ``fill(min(qty, remaining)).done`` says, without building the filled record."""
        return self.status not in TERMINAL and qty >= self.qty - self.filled > 0

    def fill(self, qty: Decimal) -> OrderRecord:
        """Apply a fill of ``qty``; over-fills and fills of finished orders are refused."""
        if self.done:
            raise OrderTransitionError(f"{self.client_id}: fill after {self.status.value}")
        if qty <= 0 or self.filled + qty > self.qty:
            raise OrderTransitionError(
                f"{self.client_id}: fill of {qty} exceeds remaining {self.remaining}"
            )
        filled = self.filled + qty
        status = OrderStatus.FILLED if filled == self.qty else OrderStatus.PARTIAL
        return _build(  # OrderRecord(...) without dataclasses.replace: every fill passes here
            self.client_id,
            self.position_id,
            self.symbol,
            self.side,
            self.reason,
            self.qty,
            filled,
            status,
            self.reserved,
            self.signals,
        )

    def cancel(self) -> OrderRecord:
        """Cancel what is not filled (a finished order stays as it is)."""
        return self if self.done else replace(self, status=OrderStatus.CANCELLED)

    def reject(self) -> OrderRecord:
        """The exchange refused the order."""
        if self.done or self.filled > 0:
            raise OrderTransitionError(f"{self.client_id}: reject after {self.status.value}")
        return replace(self, status=OrderStatus.REJECTED)


_build = builder(OrderRecord)  # every field, in order
