"""The exchange port: what the live runtime needs from an exchange, in our own types."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from optiflow.domain.market import BookTop, Candle, MarketLimits

OrderType = Literal["market", "limit", "stop_loss_limit", "stop_market"]
OrderState = Literal["open", "partial", "filled", "cancelled", "rejected", "expired"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place; ``client_id`` is deterministic so a retry can never fill twice."""

    client_id: str
    symbol: str
    side: Literal["buy", "sell"]
    type: OrderType
    qty: Decimal
    price: Decimal | None = None  # limit price (limit, stop_loss_limit)
    stop_price: Decimal | None = None  # trigger (stop_loss_limit, stop_market)
    reduce_only: bool = False  # futures
    # the price the decision saw (a level crossed inside a sweep); exchanges ignore it, the
    # rehearsal's simulated exchange fills a market sell there (where the market was then)
    ref_price: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What the exchange says about one order."""

    client_id: str
    exchange_id: str
    symbol: str
    side: Literal["buy", "sell"]
    type: str
    state: OrderState
    qty: Decimal
    filled: Decimal
    avg_price: Decimal | None
    fee_quote: Decimal  # fees converted to the quote currency where possible
    ts: int
    fee_base: Decimal = Decimal(0)  # the part of the fees paid in the base asset (received less)


@dataclass(frozen=True, slots=True)
class TradeFill:
    """One execution of one of our orders (from myTrades)."""

    trade_id: str
    client_id: str | None
    exchange_order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: Decimal
    price: Decimal
    fee_quote: Decimal
    ts: int


class ExchangeGateway(Protocol):
    """Orders, balances and market data of one exchange account (async)."""

    async def load_markets(self) -> dict[str, MarketLimits]:
        """Precision and limits of every symbol the bot trades."""
        ...

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """Best bid and ask now."""
        ...

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Closed candles only (the still-forming one is dropped), oldest first."""
        ...

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Place an order. Raises RetryableError when the outcome is unknown (timeout)."""
        ...

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Look an order up by client id; None when the exchange does not know it."""
        ...

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel by client id; None when it was not open (already filled or unknown)."""
        ...

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Open orders of the account (all symbols when None)."""
        ...

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Free balance per asset."""
        ...

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Our executions since a time."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
