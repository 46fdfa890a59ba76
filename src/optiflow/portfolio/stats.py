"""Per-symbol signal and filter counters and the bounded list of latest near misses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from optiflow.domain.results import NearMiss, SymbolStats


@dataclass(slots=True)
class SymbolCounters:
    """Mutable counters of one symbol."""

    candles: int = 0
    primary: int = 0
    confirming: int = 0
    passes_1plus1: int = 0
    entries: int = 0
    near_miss_one_group: int = 0
    near_miss_filter: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str, n: int = 1) -> None:
        """Count ``n`` rejections for ``reason``."""
        self.rejections[reason] = self.rejections.get(reason, 0) + n

    def add(self, other: SymbolCounters) -> None:
        """Add counts gathered elsewhere (e.g. over candles a fast feed did not wake on)."""
        self.candles += other.candles
        self.primary += other.primary
        self.confirming += other.confirming
        self.passes_1plus1 += other.passes_1plus1
        self.entries += other.entries
        self.near_miss_one_group += other.near_miss_one_group
        self.near_miss_filter += other.near_miss_filter
        for reason, n in other.rejections.items():
            self.reject(reason, n)

    def frozen(self) -> SymbolStats:
        """An immutable copy for reports."""
        return SymbolStats(
            candles=self.candles,
            primary=self.primary,
            confirming=self.confirming,
            passes_1plus1=self.passes_1plus1,
            entries=self.entries,
            near_miss_one_group=self.near_miss_one_group,
            near_miss_filter=self.near_miss_filter,
            rejections=tuple(sorted(self.rejections.items())),
        )


Values = tuple[tuple[str, float], ...]


@dataclass(slots=True)
class NearMissLog:
    """Keeps the latest ``keep`` near misses of each kind, ordered by (time, symbol order).

    Kinds are ``filter`` (1+1 passed, one filter blocked) and ``one_group`` (only the
    primary or only the confirming group passed); each kind keeps its own latest ones, so
    the frequent one-group misses never push the filter misses out.

    Values may be given lazily (a function), so a fast feed that records thousands of
    near misses only computes the values of the few that are finally kept.
    """

    keep: int
    order: dict[str, int]
    items: list[tuple[int, int, str, str, str, Values | Callable[[], Values]]] = field(
        default_factory=list
    )

    def add(self, nm: NearMiss) -> None:
        """Record a near miss (in any order); trimmed lazily."""
        self.add_lazy(nm.ts, nm.symbol, nm.kind, nm.reason, nm.values)

    def add_lazy(
        self, ts: int, symbol: str, kind: str, reason: str, values: Values | Callable[[], Values]
    ) -> None:
        """Record a near miss whose values may be computed later."""
        self.items.append((ts, self.order.get(symbol, 0), symbol, kind, reason, values))
        if len(self.items) > 8 * self.keep:
            self.items = self._kept()

    def add_many_lazy(
        self, items: list[tuple[int, str, str, str, Values | Callable[[], Values]]]
    ) -> None:
        """Record several near misses ``(ts, symbol, kind, reason, values)`` at once."""
        order = self.order
        self.items += [(ts, order.get(sym, 0), sym, kind, r, v) for ts, sym, kind, r, v in items]
        if len(self.items) > 8 * self.keep:
            self.items = self._kept()

    def _kept(self) -> list[tuple[int, int, str, str, str, Values | Callable[[], Values]]]:
        """The latest ``keep`` items of each kind, oldest first."""
        ordered = sorted(self.items, key=lambda it: (it[0], it[1]))
        kept = []
        for kind in sorted({it[3] for it in ordered}):
            kept += [it for it in ordered if it[3] == kind][-self.keep :]
        return sorted(kept, key=lambda it: (it[0], it[1]))

    def latest(self) -> list[NearMiss]:
        """The latest ``keep`` near misses of each kind, oldest first."""
        if not self.keep:
            return []
        ordered = self._kept()
        return [
            NearMiss(ts, sym, kind, reason, v() if callable(v) else v)
            for ts, _, sym, kind, reason, v in ordered
        ]
