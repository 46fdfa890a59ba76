"""The one retry helper: exponential back-off with jitter, for RetryableError only."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from optiflow.domain.errors import RetryableError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; ``sleep``/``rand``/``clock`` are injectable for tests."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_s: float = 120.0  # give up once this much time has been spent
    jitter: float = 0.25  # +/- share of each delay
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)
    rand: Callable[[], float] = field(default=random.random)
    clock: Callable[[], float] = field(default=time.monotonic)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (Retry-After wins when larger)."""
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        backoff *= 1 + self.jitter * (2 * self.rand() - 1)
        return float(max(backoff, retry_after or 0.0))


async def retry_call(
    fn: Callable[[], Awaitable[T]], policy: RetryPolicy, *, what: str = "call"
) -> T:
    """Await ``fn()``; on RetryableError wait and try again until attempts or budget run out."""
    start = policy.clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await fn()
        except RetryableError as exc:
            retry_after = getattr(exc, "retry_after", None)
            wait = policy.delay(attempt, retry_after)
            spent = policy.clock() - start
            if attempt >= policy.max_attempts or spent + wait > policy.budget_s:
                log.warning("%s failed after %d attempts: %s", what, attempt, exc)
                raise
            log.info("%s failed (%s); retry %d in %.2fs", what, exc, attempt, wait)
            await policy.sleep(wait)
