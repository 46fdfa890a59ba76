"""Time-based filters: per-symbol cooldown, trades-per-hour limit, stop-loss blacklist."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

MS_PER_MIN = 60_000


def cooldown_blocks(now: int, last_trade_ts: int | None, seconds: float | None) -> bool:
    """Fewer than ``seconds`` since the last trade on this symbol."""
    if seconds is None or last_trade_ts is None:
        return False
    return now - last_trade_ts < seconds * 1000


@dataclass(slots=True)
class RateLimit:
    """At most ``max_per_hour`` entries per rolling hour (per bot)."""

    max_per_hour: int | None
    entries: deque[int] = field(default_factory=deque)

    def blocks(self, now: int) -> bool:
        """True when one more entry now would exceed the limit."""
        if self.max_per_hour is None:
            return False
        while self.entries and self.entries[0] <= now - 60 * MS_PER_MIN:
            self.entries.popleft()
        return len(self.entries) >= self.max_per_hour

    def record(self, ts: int) -> None:
        """Count an entry made at ``ts``."""
        self.entries.append(ts)


@dataclass(slots=True)
class Blacklist:
    """``stop_losses`` SLs on one symbol within ``window_min`` pause it for ``pause_min``."""

    stop_losses: int | None
    window_min: float
    pause_min: float
    recent: dict[str, deque[int]] = field(default_factory=dict)
    paused_until: dict[str, int] = field(default_factory=dict)

    def blocks(self, symbol: str, now: int) -> bool:
        """True while the symbol is paused."""
        until = self.paused_until.get(symbol)
        return until is not None and now < until

    def lifted(self, symbol: str, now: int) -> bool:
        """True once, when a pause has expired (the caller announces it); clears the pause."""
        until = self.paused_until.get(symbol)
        if until is not None and now >= until:
            del self.paused_until[symbol]
            return True
        return False

    def record_stop_loss(self, symbol: str, ts: int) -> bool:
        """Count an SL; True when it engages the pause (and the count restarts)."""
        if self.stop_losses is None:
            return False
        hits = self.recent.setdefault(symbol, deque())
        hits.append(ts)
        while hits and hits[0] <= ts - self.window_min * MS_PER_MIN:
            hits.popleft()
        if len(hits) >= self.stop_losses:
            hits.clear()
            self.paused_until[symbol] = ts + int(self.pause_min * MS_PER_MIN)
            return True
        return False
