"""The order, quote and trade books shared by the simulated ``ExchangeGateway``s."""

from __future__ import annotations

from dataclasses import replace

from optiflow.adapters.sim.exchange import SimExchange, SimResult
from optiflow.domain.errors import SkipError
from optiflow.domain.events import OrderFilled
from optiflow.domain.market import BookTop, MarketLimits
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill

OPEN = ("open", "partial")


def settled(prev: OrderUpdate, res: SimResult) -> OrderUpdate:
    """``prev`` after the book's outcome ``res``: filled in full, or rejected."""
    if isinstance(res, OrderFilled):
        return replace(
            prev,
            state="filled",
            filled=prev.filled + res.qty,
            avg_price=res.price,
            fee_quote=prev.fee_quote + res.fee,
            ts=res.ts,
        )
    return replace(prev, state="rejected", ts=res.ts)


class SimBooks:
    """Quotes, orders and our trades over one ``SimExchange``; the lookups they answer."""

    def __init__(self, sim: SimExchange) -> None:
        """Empty books over ``sim``."""
        self.sim = sim
        self.quotes: dict[str, BookTop] = {}
        self.orders: dict[str, OrderUpdate] = {}
        self.trades: list[TradeFill] = []
        self.calls = 0  # order, balance and trade requests served (the bench counts them)

    def _known(self, order: OrderRequest) -> OrderUpdate | None:
        """The order already placed under ``order``'s client id; refuse one seen before."""
        if order.client_id in self.orders:
            return self.orders[order.client_id]  # an exchange refuses a duplicate client id
        if order.client_id in self.sim.seen_client_ids:
            raise SkipError(f"duplicate client order id {order.client_id}")
        return None

    async def load_markets(self) -> dict[str, MarketLimits]:
        """The limits the simulated exchange was built with."""
        return dict(self.sim.limits)

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """The latest quote of ``symbol`` (in a rehearsal bid = ask: no book in candle data)."""
        book = self.quotes.get(symbol)
        if book is None:
            raise SkipError(f"no quote for {symbol} yet")
        return book

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """An order by client id, or None."""
        self.calls += 1
        return self.orders.get(client_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Open orders (resting limits, stops and waiting market orders)."""
        self.calls += 1
        return [
            o
            for o in self.orders.values()
            if o.state in OPEN and (symbol is None or o.symbol == symbol)
        ]

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Our (recent) executions."""
        self.calls += 1
        return [
            t for t in self.trades if t.symbol == symbol and (since_ms is None or t.ts >= since_ms)
        ]
