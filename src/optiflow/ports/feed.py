"""The price-feed port: pushed best bid/ask (websocket) between the runtime's REST cycles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from optiflow.domain.market import BookTop


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """One pushed best bid/ask of one symbol."""

    symbol: str
    book: BookTop
    swept_from: float | None = None  # the price moved continuously from here (rehearsal)


class PriceFeed(Protocol):
    """An async stream of the latest quote per symbol; never raises into the runtime."""

    @property
    def connected(self) -> bool:
        """Whether quotes are flowing now (False while down and reconnecting)."""
        ...

    async def start(self, symbols: Sequence[str]) -> None:
        """Begin streaming ``symbols`` in the background (returns at once)."""
        ...

    def __aiter__(self) -> AsyncIterator[PriceQuote]:
        """The quotes as they arrive (the latest per symbol if the reader falls behind)."""
        ...

    async def close(self) -> None:
        """Stop streaming and release the connections."""
        ...
