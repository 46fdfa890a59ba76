"""One request-weight budget (token bucket) shared by the bots of one account.

``WeightBudget`` serves one process; ``FileWeightBudget`` keeps the bucket in a small file
guarded by ``fcntl.flock`` so every bot process of a fleet draws from the same budget.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path


class WeightBudget:
    """A token bucket of ``capacity`` weight refilled at ``per_second``; in-process."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.capacity, self.per_second = capacity, per_second
        self._clock, self._sleep = clock, sleep
        self._tokens, self._ts = capacity, clock()
        self._lock = asyncio.Lock()

    def _take(self, tokens: float, ts: float, weight: float, now: float) -> tuple[float, float]:
        """New (tokens, wait) after asking for ``weight`` at ``now``; tokens may go negative."""
        tokens = min(self.capacity, tokens + (now - ts) * self.per_second) - weight
        return tokens, max(0.0, -tokens / self.per_second)

    async def acquire(self, weight: float = 1.0) -> float:
        """Reserve ``weight``; sleeps until it is covered. Returns the seconds waited."""
        async with self._lock:
            now = self._clock()
            self._tokens, wait = self._take(self._tokens, self._ts, weight, now)
            self._ts = now
        if wait > 0:
            await self._sleep(wait)
        return wait


class FileWeightBudget(WeightBudget):
    """The same bucket stored in ``path`` (one per account) and shared across processes."""

    def __init__(
        self,
        path: Path,
        capacity: float,
        per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(capacity, per_second, clock=clock, sleep=sleep)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    async def acquire(self, weight: float = 1.0) -> float:
        """Reserve ``weight`` in the shared file; sleeps until it is covered."""
        wait = self._reserve(weight)
        if wait > 0:
            await self._sleep(wait)
        return wait

    def _reserve(self, weight: float) -> float:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 4096)
            now = self._clock()
            state = json.loads(raw) if raw else {"tokens": self.capacity, "ts": now}
            tokens, wait = self._take(float(state["tokens"]), float(state["ts"]), weight, now)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"tokens": tokens, "ts": now}).encode())
            return wait
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
