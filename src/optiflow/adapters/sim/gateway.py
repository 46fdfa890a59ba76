"""The simulated exchange behind the ``ExchangeGateway`` port (paper trading and tests).

Market orders fill at once at the latest quote (buys at the ask, sells at the bid) plus
the configured slippage; limit orders rest until a quote crosses them (then they fill in
full at their limit price). Candle history, when given, is served like an exchange would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from optiflow.adapters.sim.books import OPEN, SimBooks, settled
from optiflow.adapters.sim.exchange import SimExchange, SimResult, crosses
from optiflow.domain.errors import SkipError
from optiflow.domain.events import OrderFilled
from optiflow.domain.market import BookTop, Candle
from optiflow.marketdata.loaders import timeframe_to_ms
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill


class SimGateway(SimBooks):
    """``ExchangeGateway`` over one in-process ``SimExchange``."""

    def __init__(
        self,
        sim: SimExchange,
        candles: Mapping[str, Sequence[Candle]] | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        """Wrap a simulated exchange; quotes come from ``set_quote``, history from ``candles``."""
        super().__init__(sim)
        self.candles: dict[str, list[Candle]] = {k: list(v) for k, v in (candles or {}).items()}
        self.now_ms = now_ms

    def set_quote(self, symbol: str, book: BookTop) -> None:
        """The latest best bid/ask of ``symbol``; resting limit orders it crosses fill."""
        self.quotes[symbol] = book
        self.sim.last_price[symbol] = (book.bid + book.ask) / 2
        for res in self.sim.match_quote(symbol, book.bid, book.ask, book.ts):
            self._settle(res, symbol)

    def _settle(self, res: SimResult, symbol: str) -> None:
        """Record the outcome of a resting order (filled in full or rejected)."""
        prev = self.orders.get(res.client_id)
        if prev is None:  # an order the gateway did not place (restored from a snapshot)
            prev = OrderUpdate(
                res.client_id,
                f"sim-{len(self.orders) + 1}",
                symbol,
                res.side if isinstance(res, OrderFilled) else "buy",
                "limit",
                "open",
                res.qty if isinstance(res, OrderFilled) else Decimal(0),
                Decimal(0),
                None,
                Decimal(0),
                res.ts,
            )
        if isinstance(res, OrderFilled):
            self._trade(res, prev.exchange_id)
        self.orders[res.client_id] = settled(prev, res)

    def _trade(self, fill: OrderFilled, exchange_id: str) -> None:
        self.trades.append(
            TradeFill(
                f"t{len(self.trades) + 1}",
                fill.client_id,
                exchange_id,
                fill.symbol,
                fill.side,
                fill.qty,
                fill.price,
                fill.fee,
                fill.ts,
            )
        )

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Closed candles of the history given (the forming one is dropped), oldest first."""
        span = timeframe_to_ms(timeframe)
        now = self.now_ms() if self.now_ms is not None else None
        rows = sorted(
            (
                c
                for c in self.candles.get(symbol, [])
                if (now is None or c.ts + span <= now) and (since_ms is None or c.ts >= since_ms)
            ),
            key=lambda c: c.ts,
        )
        return rows[:limit] if since_ms is not None else rows[-limit:] if limit > 0 else []

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Fill a market order now at the quote; rest a limit order (fill it if marketable)."""
        known = self._known(order)
        if known is not None:
            return known
        book = self.quotes.get(order.symbol)
        exchange_id = f"sim-{len(self.orders) + 1}"
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
                exchange_id,
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
            self._trade(res, exchange_id)
        elif order.type == "limit" and order.price is not None:
            self.sim.submit_limit(order.client_id, order.symbol, order.side, order.qty, order.price)
            up = OrderUpdate(
                order.client_id,
                exchange_id,
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
            self.orders[order.client_id] = up
            if book is not None and crosses(order.side, order.price, book.bid, book.ask):
                px = Decimal(repr(book.ask if order.side == "buy" else book.bid))
                self._settle(self.sim.fill_resting(order.client_id, px, book.ts), order.symbol)
            return self.orders[order.client_id]
        else:
            raise SkipError(f"{order.type} orders are not simulated")
        self.orders[order.client_id] = up
        return up

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel a resting order; None when it was not open."""
        up = self.orders.get(client_id)
        if up is None or up.state not in OPEN or not self.sim.cancel(client_id):
            return None
        up = replace(up, state="cancelled")
        self.orders[client_id] = up
        return up

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Free balance per asset: what resting limit orders would spend is held back."""
        free = dict(self.sim.balances)
        for o in self.sim.resting.values():
            if o.limit is None:
                continue
            base, quote = o.symbol.split("/")
            left = o.qty - o.filled
            if o.side == "buy":
                held = left * o.limit * (1 + self.sim.fee_rate)
                free[quote] = free.get(quote, Decimal(0)) - held
            else:
                free[base] = free.get(base, Decimal(0)) - left
        return free

    async def close(self) -> None:
        """Nothing to release."""
