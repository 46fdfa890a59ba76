"""Pacing of history in (accelerated) real time; a stop request ends any wait at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Pacer:
    """Maps candle time to wall time at ``speed`` x (0: as fast as possible)."""

    def __init__(self, speed: float, now_s: Callable[[], float]) -> None:
        """Start pacing from the first candle handed to ``wait``."""
        self.speed, self.now_s = speed, now_s
        self.origin: tuple[int, float] | None = None
        self.stopped = False
        self._wake: asyncio.Event | None = None

    def interrupt(self) -> None:
        """A stop was requested: the current and every later ``wait`` return at once."""
        self.stopped = True
        if self._wake is not None:
            self._wake.set()

    async def wait(self, ts_ms: int) -> None:
        """Sleep until the wall time that corresponds to candle time ``ts_ms``."""
        if self.speed <= 0 or self.stopped:
            await asyncio.sleep(0)
            return
        if self.origin is None:
            self.origin = (ts_ms, self.now_s())
        target = self.origin[1] + (ts_ms - self.origin[0]) / 1000 / self.speed
        delay = target - self.now_s()
        if delay <= 0:
            await asyncio.sleep(0)
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        with contextlib.suppress(TimeoutError):  # woken early by ``interrupt``
            await asyncio.wait_for(self._wake.wait(), delay)


def interrupt_waits(runtime: object) -> None:
    """A stop was requested: the runtime's sleep between cycles or paced candles ends now."""
    for waits in (getattr(runtime, "clock", None), getattr(runtime, "pacer", None)):
        interrupt = getattr(waits, "interrupt", None)
        if interrupt is not None:
            interrupt()
