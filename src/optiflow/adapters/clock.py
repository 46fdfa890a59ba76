"""The one module that reads the wall clock."""

from __future__ import annotations

import asyncio
import contextlib
import time


class RealClock:
    """Wall-clock time in ms since the epoch, UTC; a stop request cuts any wait short."""

    def __init__(self) -> None:
        """No stop requested yet."""
        self._stopped = False
        self._wake: asyncio.Event | None = None

    def now_ms(self) -> int:
        """The current time."""
        return time.time_ns() // 1_000_000

    def monotonic_s(self) -> float:
        """Seconds on a monotonic clock (durations only)."""
        return time.perf_counter()

    def interrupt(self) -> None:
        """A stop was requested: the current and every later ``sleep_until`` return at once."""
        self._stopped = True
        if self._wake is not None:
            self._wake.set()

    async def sleep_until(self, ts_ms: int) -> None:
        """Wait until ``ts_ms``, or until ``interrupt`` is called."""
        delay = max(0.0, (ts_ms - self.now_ms()) / 1000)
        if self._stopped:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
