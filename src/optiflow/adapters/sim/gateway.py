"""The simulated exchange behind the ``ExchangeGateway`` port (paper trading and tests).

Market orders fill at once at the latest quote (buys at the ask, sells at the bid) plus
the configured slippage; limit orders rest until a candle trades through them.
"""

from __future__ import annotations

from decimal import Decimal

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.domain.errors import SkipError
from optiflow.domain.events import OrderFilled
from optiflow.domain.market import BookTop, Candle, MarketLimits
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill


class SimGateway:
    """``ExchangeGateway`` over one in-process ``SimExchange``."""

    def __init__(self, sim: SimExchange) -> None:
        """Wrap a simulated exchange; quotes come from ``set_quote``."""
        self.sim = sim
        self.quotes: dict[str, BookTop] = {}
        self.orders: dict[str, OrderUpdate] = {}
        self.trades: list[TradeFill] = []

    def set_quote(self, symbol: str, book: BookTop) -> None:
        """The latest best bid/ask of ``symbol`` (market orders fill against it)."""
        self.quotes[symbol] = book
        self.sim.last_price[symbol] = (book.bid + book.ask) / 2

    async def load_markets(self) -> dict[str, MarketLimits]:
        """The limits the simulated exchange was built with."""
        return dict(self.sim.limits)

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """The latest quote given to ``set_quote``."""
        return self.quotes[symbol]

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """The simulated exchange has no history of its own."""
        return []

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Fill a market order now at the quote; rest a limit order."""
        if order.client_id in self.orders:
            return self.orders[order.client_id]  # an exchange refuses a duplicate client id
        book = self.quotes.get(order.symbol)
        if order.type == "market":
            if book is None:
                raise SkipError(f"no quote for {order.symbol} yet")
            ref = book.ask if order.side == "buy" else book.bid
            res = self.sim.execute_now(
                order.client_id, order.symbol, order.side, order.qty, ref, book.ts
            )
            if not isinstance(res, OrderFilled):
                raise SkipError(f"{order.client_id}: {res.reason}")
            up = OrderUpdate(
                order.client_id,
                f"sim-{len(self.orders) + 1}",
                order.symbol,
                order.side,
                "market",
                "filled",
                order.qty,
                res.qty,
                res.price,
                res.fee,
                res.ts,
            )
            self.trades.append(
                TradeFill(
                    f"t{len(self.trades) + 1}",
                    order.client_id,
                    up.exchange_id,
                    order.symbol,
                    order.side,
                    res.qty,
                    res.price,
                    res.fee,
                    res.ts,
                )
            )
        elif order.type == "limit" and order.price is not None:
            self.sim.submit_limit(order.client_id, order.symbol, order.side, order.qty, order.price)
            up = OrderUpdate(
                order.client_id,
                f"sim-{len(self.orders) + 1}",
                order.symbol,
                order.side,
                "limit",
                "open",
                order.qty,
                Decimal(0),
                None,
                Decimal(0),
                book.ts if book else 0,
            )
        else:
            raise SkipError(f"{order.type} orders are not simulated")
        self.orders[order.client_id] = up
        return up

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """An order by client id, or None."""
        return self.orders.get(client_id)

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel a resting order; None when it was not open."""
        up = self.orders.get(client_id)
        if up is None or up.state not in ("open", "partial") or not self.sim.cancel(client_id):
            return None
        up = OrderUpdate(
            up.client_id,
            up.exchange_id,
            up.symbol,
            up.side,
            up.type,
            "cancelled",
            up.qty,
            up.filled,
            up.avg_price,
            up.fee_quote,
            up.ts,
        )
        self.orders[client_id] = up
        return up

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Resting orders."""
        return [
            o
            for o in self.orders.values()
            if o.state in ("open", "partial") and (symbol is None or o.symbol == symbol)
        ]

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Balances per asset."""
        return dict(self.sim.balances)

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Our executions."""
        return [
            t for t in self.trades if t.symbol == symbol and (since_ms is None or t.ts >= since_ms)
        ]

    async def close(self) -> None:
        """Nothing to release."""
