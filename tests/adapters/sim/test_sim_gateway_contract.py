"""The ExchangeGateway contract suite, run against the simulated exchange's gateway."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.sim.exchange import SimExchange  # noqa: E402
from optiflow.adapters.sim.gateway import SimGateway  # noqa: E402
from optiflow.domain.market import BookTop, Candle, MarketLimits  # noqa: E402
from optiflow.ports.exchange import OrderRequest  # noqa: E402
from tests.adapters.ccxt.contract import CONTRACT_CHECKS, SYMBOL, Harness  # noqa: E402

START = 1_700_000_040_000  # a minute boundary
CANDLES = [Candle(START + i * 60_000, 30000.0, 30010.0, 29990.0, 30005.0, 12.5) for i in range(200)]
NOW = CANDLES[-1].ts + 30_000  # the last candle is still forming


@dataclass
class SimHarness:
    """The contract harness for the simulated gateway: 0.1 % fees, no slippage."""

    gateway: SimGateway
    candle_ts: list[int]

    def set_book(self, symbol: str, bid: str, ask: str) -> None:
        """Give the gateway a new quote (crossed resting limits fill)."""
        self.gateway.set_quote(symbol, BookTop(NOW, float(bid), float(ask)))

    def count_orders(self, client_id: str) -> int:
        """Orders the simulated exchange holds with this client id."""
        return sum(1 for o in self.gateway.orders.values() if o.client_id == client_id)


def make_harness() -> SimHarness:
    """A fresh simulated exchange with BTC/USDT, 10 000 USDT and 200 1m candles."""
    limits = {
        SYMBOL: MarketLimits(Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal(5))
    }
    sim = SimExchange(Decimal("0.001"), Decimal(0), limits, {"USDT": Decimal(10000)})
    gw = SimGateway(sim, {SYMBOL: CANDLES}, now_ms=lambda: NOW)
    return SimHarness(gw, [c.ts for c in CANDLES])


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_sim_gateway_contract(check: Callable[[Harness], Awaitable[None]]) -> None:
    """The simulated gateway passes each contract check."""
    asyncio.run(check(make_harness()))


def test_marketable_limit_fills_at_the_quote() -> None:
    """A limit order crossed when placed fills at once at the quote, not at its limit."""
    h = make_harness()
    h.set_book(SYMBOL, "30000", "30001")
    req = OrderRequest("c-m1", SYMBOL, "buy", "limit", Decimal("0.001"), Decimal("31000"))
    up = asyncio.run(h.gateway.submit_order(req))
    assert (up.state, up.avg_price, up.filled) == ("filled", Decimal(30001), Decimal("0.001"))
    assert asyncio.run(h.gateway.fetch_open_orders()) == []


def test_free_balance_holds_back_resting_orders() -> None:
    """A resting limit buy holds its cost plus fee out of the free quote balance."""
    h = make_harness()
    h.set_book(SYMBOL, "30000", "30001")
    req = OrderRequest("c-h1", SYMBOL, "buy", "limit", Decimal("0.01"), Decimal("29000"))
    asyncio.run(h.gateway.submit_order(req))
    free = asyncio.run(h.gateway.fetch_balances())
    assert free["USDT"] == Decimal(10000) - Decimal(290) * Decimal("1.001")
    asyncio.run(h.gateway.cancel_order(SYMBOL, "c-h1"))
    assert asyncio.run(h.gateway.fetch_balances())["USDT"] == Decimal(10000)
