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


class AcceleratedClock:
    """Market time running ``speed`` x faster than the wall clock from a shared origin.

    ``now = origin_ms + (wall - wall_origin_s) * speed``: several processes given the same
    origins agree on the time (a rehearsal, or a soak test and its fake exchange).
    """

    def __init__(self, origin_ms: int, speed: float, wall_origin_s: float | None = None) -> None:
        """Start at ``origin_ms`` at ``wall_origin_s`` (default: now)."""
        self.origin_ms, self.speed = origin_ms, speed
        self.wall_origin_s = time.time() if wall_origin_s is None else wall_origin_s

    def now_ms(self) -> int:
        """The accelerated time."""
        return self.origin_ms + int((time.time() - self.wall_origin_s) * 1000 * self.speed)

    def monotonic_s(self) -> float:
        """Seconds on a monotonic clock (durations only, real seconds)."""
        return time.perf_counter()

    async def sleep_until(self, ts_ms: int) -> None:
        """Wait until the accelerated time reaches ``ts_ms``."""
        delay = (ts_ms - self.now_ms()) / 1000 / self.speed
        await asyncio.sleep(max(0.0, delay))
