"""The store port: the bot's durable memory. One atomic ``commit`` per state change."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow, NearMiss, ShadowResult


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as the store keeps it (upserted by ``client_id``)."""

    client_id: str
    position_id: str
    symbol: str
    side: str
    reason: str
    qty: Decimal
    filled: Decimal
    status: str  # intent | open | partial | filled | cancelled | rejected
    ref_price: float
    ts_created: int
    ts_updated: int
    exchange_id: str | None = None

    def updated(
        self, filled: Decimal, status: str, ts: int, exchange_id: str | None = None
    ) -> OrderRow:
        """The same order with a new fill level and status."""
        return OrderRow(  # built directly: half the cost of ``dataclasses.replace``
            self.client_id, self.position_id, self.symbol, self.side, self.reason, self.qty,
            filled, status, self.ref_price, self.ts_created, ts, exchange_id or self.exchange_id,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class FillRow:
    """One execution applied to the bot (unique by ``fill_id``)."""

    fill_id: str
    client_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class StateBatch:
    """Everything that changed since the last commit; written in ONE transaction."""

    snapshot: dict[str, Any]  # the engine's full state (JSON-able), replaces the previous one
    cursor: dict[str, Any] | None = None  # replay position / feed bookmarks
    orders: tuple[OrderRow, ...] = ()
    fills: tuple[FillRow, ...] = ()
    exits: tuple[ExitRow, ...] = ()
    notes: tuple[Notify, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    shadows: tuple[ShadowResult, ...] = ()  # finished shadow outcomes (engine/shadows.py)


@dataclass(frozen=True, slots=True)
class StoredState:
    """What ``load`` returns on start: the latest snapshot and cursor."""

    snapshot: dict[str, Any]
    cursor: dict[str, Any] | None
    schema_version: int
    extra: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """Durable state of one bot (SQLite in WAL mode; in-memory for backtests)."""

    def load(self) -> StoredState | None:
        """The latest committed state, or None for a new bot."""
        ...

    def commit(self, batch: StateBatch) -> None:
        """Write a batch atomically; when this returns, a kill -9 cannot lose it."""
        ...

    def orders(self, statuses: tuple[str, ...] | None = None) -> list[OrderRow]:
        """Orders, optionally only those in the given statuses, oldest first."""
        ...

    def fill_ids(self) -> set[str]:
        """Ids of every fill already applied (to never apply one twice)."""
        ...

    def fills(self, client_id: str | None = None) -> list[FillRow]:
        """Fills, optionally of one order only, oldest first."""
        ...

    def exits(self, since_ts: int | None = None) -> list[ExitRow]:
        """Closed-trade rows, oldest first."""
        ...

    def notes(self, limit: int = 100) -> list[Notify]:
        """The latest notifications/events, oldest first."""
        ...

    def near_misses(self, limit: int = 50) -> list[NearMiss]:
        """The latest near misses, oldest first."""
        ...

    def close(self) -> None:
        """Flush and release the database."""
        ...


def merge_batches(batches: list[StateBatch]) -> StateBatch:
    """Several uncommitted batches as one: the latest snapshot, each order's latest row."""
    orders: dict[str, OrderRow] = {}
    fills: dict[str, FillRow] = {}
    for b in batches:
        orders.update((o.client_id, o) for o in b.orders)
        fills.update((f.fill_id, f) for f in b.fills)
    last = batches[-1]
    cursor = next((b.cursor for b in reversed(batches) if b.cursor is not None), None)
    return StateBatch(
        snapshot=last.snapshot,
        cursor=cursor,
        orders=tuple(orders.values()),
        fills=tuple(fills.values()),
        exits=tuple(e for b in batches for e in b.exits),
        notes=tuple(n for b in batches for n in b.notes),
        near_misses=tuple(m for b in batches for m in b.near_misses),
        shadows=tuple(r for b in batches for r in b.shadows),
    )
