"""Stale market data: a symbol without a new closed candle for 3 timeframes is flagged once."""

from __future__ import annotations

from typing import Any

STALE_TIMEFRAMES = 3


class StaleWatch:
    """Per symbol: how old its latest closed candle is, and when a stale episode starts."""

    def __init__(self, timeframe_ms: int, timeframes: int = STALE_TIMEFRAMES) -> None:
        """Flag a symbol once its latest candle closed more than ``timeframes`` ago."""
        self.tf, self.limit_ms = timeframe_ms, timeframes * timeframe_ms
        self.stale: set[str] = set()
        self.first_seen: dict[str, int] = {}

    def check(
        self, symbol: str, last_open_ms: int | None, now_ms: int, info: dict[str, Any]
    ) -> str | None:
        """Update ``info`` (stale flag, age) and return a warning when an episode starts."""
        since = self.first_seen.setdefault(symbol, now_ms)
        closed = since if last_open_ms is None else last_open_ms + self.tf
        if closed >= now_ms and symbol not in self.stale:
            # the usual cycle: the candle closed by now is the latest (age 0), not stale
            info["stale"], info["last_candle_age_s"] = False, 0.0
            return None
        age = max(0, now_ms - closed)
        is_stale = age > self.limit_ms
        info["stale"], info["last_candle_age_s"] = is_stale, round(age / 1000, 1)
        if not is_stale:
            self.stale.discard(symbol)
            return None
        if symbol in self.stale:
            return None
        self.stale.add(symbol)
        return (
            f"{symbol}: stale data: no new closed candle for {age / 60_000:.1f} min "
            f"(more than {self.limit_ms // self.tf} timeframes); the exchange serves old candles "
            "or none, so no entry can be decided on this symbol"
        )
