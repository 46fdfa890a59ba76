"""The clock port: the only way the runtime learns the time."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Milliseconds since the epoch, UTC, and a way to wait."""

    def now_ms(self) -> int:
        """The current time."""
        ...

    async def sleep_until(self, ts_ms: int) -> None:
        """Wait until ``ts_ms`` (a simulated clock jumps there)."""
        ...
