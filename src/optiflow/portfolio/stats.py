"""Per-symbol signal and filter counters and the bounded list of latest near misses."""

from __future__ import annotations

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


@dataclass(slots=True)
class NearMissLog:
    """Keeps the latest ``keep`` near misses, ordered by (time, symbol order)."""

    keep: int
    order: dict[str, int]
    items: list[NearMiss] = field(default_factory=list)

    def add(self, nm: NearMiss) -> None:
        """Record a near miss (in any order); trimmed lazily."""
        self.items.append(nm)
        if len(self.items) > 4 * self.keep:
            self.items = self.latest()

    def latest(self) -> list[NearMiss]:
        """The latest ``keep`` near misses, oldest first."""
        ordered = sorted(self.items, key=lambda n: (n.ts, self.order.get(n.symbol, 0)))
        return ordered[-self.keep :] if self.keep else []
