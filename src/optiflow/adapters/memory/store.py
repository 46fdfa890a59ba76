"""The `Store` port in memory (backtests, tests): the same behaviour as the SQLite store.

The snapshot and cursor are kept as the same JSON text the SQLite store writes
(``json.dumps(default=str)``), so a Decimal left in them comes back as a string in both,
and mutating a dict after ``commit`` cannot change what was stored.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow, NearMiss, ShadowResult
from optiflow.ports.store import FillRow, OrderRow, StateBatch, StoredState

MEMORY_SCHEMA_VERSION = 4  # reported like the SQLite schema version it mirrors


def _dump(value: Any) -> str:
    """Compact JSON text; Decimals (and other odd types) become str."""
    return json.dumps(value, separators=(",", ":"), default=str)


class MemoryStore:
    """Keeps one bot's state in memory; nothing survives the process."""

    def __init__(
        self, bot_name: str = "", *, max_notes: int = 10_000, max_near_misses: int = 1_000
    ) -> None:
        """An empty store with the same bounds as the SQLite one."""
        self.bot_name = bot_name
        self.max_notes = max_notes
        self.max_near_misses = max_near_misses
        self._state: str | None = None
        self._cursor: str | None = None
        self._seq = 0
        self._orders: dict[str, OrderRow] = {}
        self._fills: dict[str, FillRow] = {}
        self._exits: list[ExitRow] = []
        self._notes: deque[Notify] = deque(maxlen=max_notes)
        self._near: deque[NearMiss] = deque(maxlen=max_near_misses)
        self.shadows: list[ShadowResult] = []  # finished shadow outcomes

    def load(self) -> StoredState | None:
        """The latest committed snapshot and cursor, or None for a new bot."""
        if self._state is None:
            return None
        return StoredState(
            snapshot=json.loads(self._state),
            cursor=None if self._cursor is None else json.loads(self._cursor),
            schema_version=MEMORY_SCHEMA_VERSION,
            extra={"commit_seq": self._seq, "bot": self.bot_name},
        )

    def commit(self, batch: StateBatch) -> None:
        """Apply the batch (all or nothing); a cursor of None keeps the previous one."""
        state = _dump(batch.snapshot)
        cursor = self._cursor if batch.cursor is None else _dump(batch.cursor)
        # Nothing below can fail, so the batch is applied whole.
        self._state, self._cursor, self._seq = state, cursor, self._seq + 1
        for order in batch.orders:
            self._orders[order.client_id] = order
        for fill in batch.fills:
            self._fills.setdefault(fill.fill_id, fill)
        self._exits.extend(batch.exits)
        self._notes.extend(batch.notes)
        self._near.extend(batch.near_misses)
        self.shadows.extend(batch.shadows)

    def orders(self, statuses: tuple[str, ...] | None = None) -> list[OrderRow]:
        """Orders, optionally only those in the given statuses, oldest first."""
        rows = [o for o in self._orders.values() if statuses is None or o.status in statuses]
        return sorted(rows, key=lambda o: o.ts_created)  # stable: first insertion breaks ties

    def fill_ids(self) -> set[str]:
        """Ids of every fill already applied (to never apply one twice)."""
        return set(self._fills)

    def fills(self, client_id: str | None = None) -> list[FillRow]:
        """Fills, optionally of one order only, oldest first (not part of the port)."""
        rows = [f for f in self._fills.values() if client_id is None or f.client_id == client_id]
        return sorted(rows, key=lambda f: f.ts)

    def exits(self, since_ts: int | None = None) -> list[ExitRow]:
        """Closed-trade rows with ``ts_exit >= since_ts``, oldest first (by exit time)."""
        rows = [e for e in self._exits if since_ts is None or e.ts_exit >= since_ts]
        return sorted(rows, key=lambda e: e.ts_exit)

    def notes(self, limit: int = 100) -> list[Notify]:
        """The latest `limit` notes (at most ``max_notes``), oldest first."""
        return list(self._notes)[-limit:] if limit > 0 else []

    def near_misses(self, limit: int = 50) -> list[NearMiss]:
        """The latest `limit` near misses (at most ``max_near_misses``), oldest first."""
        return list(self._near)[-limit:] if limit > 0 else []

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["MEMORY_SCHEMA_VERSION", "MemoryStore"]
