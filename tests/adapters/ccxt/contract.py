"""Reusable contract suite for the ExchangeGateway port: run it against any adapter.

An adapter's tests provide a ``Harness`` (gateway + a hand on the exchange behind it) and
run every check in ``CONTRACT_CHECKS`` (see ``test_gateway_contract.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Protocol, TypeVar

from optiflow.domain.errors import SkipError
from optiflow.ports.exchange import ExchangeGateway, OrderRequest

T = TypeVar("T")
SYMBOL = "BTC/USDT"


class Harness(Protocol):
    """A gateway plus the knobs of the (fake or simulated) exchange behind it."""

    @property
    def gateway(self) -> ExchangeGateway:
        """The gateway under test."""

    @property
    def candle_ts(self) -> list[int]:
        """Open times of the candles loaded, the last one still forming."""

    def set_book(self, symbol: str, bid: str, ask: str) -> None:
        """Move the best bid/ask (fills resting orders that are crossed)."""

    def count_orders(self, client_id: str) -> int:
        """How many orders the exchange holds with this client id."""


async def w(aw: Awaitable[T], timeout: float = 10.0) -> T:
    """Await with a deadline so a hang fails the test."""
    return await asyncio.wait_for(aw, timeout)


async def check_load_markets(h: Harness) -> None:
    """load_markets gives tick, step, min amount and min notional of the symbol."""
    limits = (await w(h.gateway.load_markets()))[SYMBOL]
    assert limits.price_tick == Decimal("0.01")
    assert limits.amount_step == Decimal("0.00001")
    assert limits.min_notional == Decimal("5")


async def check_book_top(h: Harness) -> None:
    """fetch_book_top returns the current best bid and ask."""
    h.set_book(SYMBOL, "30000", "30000.5")
    top = await w(h.gateway.fetch_book_top(SYMBOL))
    assert (top.bid, top.ask) == (30000.0, 30000.5)


async def check_closed_candles(h: Harness) -> None:
    """fetch_closed_candles drops the forming candle and is oldest first."""
    candles = await w(h.gateway.fetch_closed_candles(SYMBOL, "1m", None, 5))
    assert [c.ts for c in candles] == h.candle_ts[-6:-1]


async def check_market_buy_sell(h: Harness) -> None:
    """Market buy and sell fill in full at the book with a positive quote fee."""
    h.set_book(SYMBOL, "30000", "30001")
    buy = await w(
        h.gateway.submit_order(OrderRequest("c-mb", SYMBOL, "buy", "market", Decimal("0.001")))
    )
    assert (buy.state, buy.filled, buy.avg_price) == ("filled", Decimal("0.001"), Decimal(30001))
    assert buy.fee_quote > 0
    sell = await w(
        h.gateway.submit_order(OrderRequest("c-ms", SYMBOL, "sell", "market", Decimal("0.0005")))
    )
    assert (sell.state, sell.avg_price) == ("filled", Decimal(30000))
    assert sell.fee_quote > 0


async def check_limit_and_cancel(h: Harness) -> None:
    """A resting limit order is open, listed, cancellable; a second cancel gives None."""
    h.set_book(SYMBOL, "30000", "30001")
    o = await w(
        h.gateway.submit_order(
            OrderRequest("c-l1", SYMBOL, "buy", "limit", Decimal("0.001"), Decimal("29000"))
        )
    )
    assert o.state == "open" and o.filled == 0
    assert [x.client_id for x in await w(h.gateway.fetch_open_orders(SYMBOL))] == ["c-l1"]
    cancelled = await w(h.gateway.cancel_order(SYMBOL, "c-l1"))
    assert cancelled is not None and cancelled.state == "cancelled"
    assert await w(h.gateway.fetch_open_orders(SYMBOL)) == []


async def check_limit_fills_when_crossed(h: Harness) -> None:
    """A resting limit fills at its price when the market moves through it."""
    h.set_book(SYMBOL, "30000", "30001")
    await w(
        h.gateway.submit_order(
            OrderRequest("c-l2", SYMBOL, "buy", "limit", Decimal("0.001"), Decimal("29900"))
        )
    )
    h.set_book(SYMBOL, "29890", "29895")
    got = await w(h.gateway.fetch_order(SYMBOL, "c-l2"))
    assert got is not None and got.state == "filled" and got.avg_price == Decimal(29900)
    assert await w(h.gateway.cancel_order(SYMBOL, "c-l2")) is None


async def check_fetch_order_by_client_id(h: Harness) -> None:
    """fetch_order finds an order by client id and gives None for an unknown one."""
    h.set_book(SYMBOL, "30000", "30001")
    await w(h.gateway.submit_order(OrderRequest("c-f1", SYMBOL, "buy", "market", Decimal("0.001"))))
    got = await w(h.gateway.fetch_order(SYMBOL, "c-f1"))
    assert got is not None and got.client_id == "c-f1" and got.state == "filled"
    assert got.fee_quote > 0
    assert await w(h.gateway.fetch_order(SYMBOL, "nope")) is None


async def check_balances(h: Harness) -> None:
    """A market buy moves quote to base in fetch_balances, less the fee wherever it is taken."""
    before = await w(h.gateway.fetch_balances())
    h.set_book(SYMBOL, "30000", "30000")
    o = await w(
        h.gateway.submit_order(OrderRequest("c-b1", SYMBOL, "buy", "market", Decimal("0.01")))
    )
    after = await w(h.gateway.fetch_balances())
    assert o.fee_quote > 0 and o.avg_price == Decimal(30000)
    fee_in_quote = o.fee_quote - o.fee_base * o.avg_price  # Binance: 0 (fee in BTC); sim: all
    assert after["USDT"] == before["USDT"] - Decimal(300) - fee_in_quote
    assert after["BTC"] == before.get("BTC", Decimal(0)) + Decimal("0.01") - o.fee_base
    assert o.fee_quote == Decimal(300) * Decimal("0.001")  # 0.1 % taker fee


async def check_my_trades(h: Harness) -> None:
    """fetch_my_trades lists our executions with price, qty, fee and client id."""
    h.set_book(SYMBOL, "30000", "30001")
    o = await w(
        h.gateway.submit_order(OrderRequest("c-t1", SYMBOL, "buy", "market", Decimal("0.002")))
    )
    trades = await w(h.gateway.fetch_my_trades(SYMBOL, None))
    assert len(trades) == 1
    t = trades[0]
    assert (t.exchange_order_id, t.side, t.qty, t.price) == (
        o.exchange_id,
        "buy",
        Decimal("0.002"),
        Decimal(30001),
    )
    assert t.client_id == "c-t1" and t.fee_quote > 0


async def check_duplicate_client_id(h: Harness) -> None:
    """Submitting a client id twice never creates a second order."""
    h.set_book(SYMBOL, "30000", "30001")
    req = OrderRequest("c-d1", SYMBOL, "buy", "limit", Decimal("0.001"), Decimal("29000"))
    first = await w(h.gateway.submit_order(req))
    try:
        again = await w(h.gateway.submit_order(req))
        assert again.exchange_id == first.exchange_id
    except SkipError:
        pass
    assert h.count_orders("c-d1") == 1


CONTRACT_CHECKS: list[Callable[[Harness], Awaitable[None]]] = [
    check_load_markets,
    check_book_top,
    check_closed_candles,
    check_market_buy_sell,
    check_limit_and_cancel,
    check_limit_fills_when_crossed,
    check_fetch_order_by_client_id,
    check_balances,
    check_my_trades,
    check_duplicate_client_id,
]
