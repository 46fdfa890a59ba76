"""The one module that reads the wall clock."""

from __future__ import annotations

import asyncio
import time


class RealClock:
    """Wall-clock time in ms since the epoch, UTC."""

    def now_ms(self) -> int:
        """The current time."""
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        """Seconds on a monotonic clock (durations only)."""
        return time.perf_counter()

    async def sleep_until(self, ts_ms: int) -> None:
        """Wait until ``ts_ms``."""
        delay = (ts_ms - self.now_ms()) / 1000
        await asyncio.sleep(max(0.0, delay))
