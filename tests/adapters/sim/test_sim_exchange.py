"""The simulated exchange: market and limit orders, fees, slippage, partial fills, balances."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.domain.events import OrderFilled, OrderRejected
from optiflow.domain.market import MarketLimits

LIMITS = {
    "BTC/USDT": MarketLimits(Decimal("0.01"), Decimal("0.001"), Decimal("0.001"), Decimal("5"))
}


def sim(usdt: str = "1000", slip: str = "0.0002") -> SimExchange:
    """A simulated exchange with 0.1 % fees."""
    return SimExchange(Decimal("0.001"), Decimal(slip), LIMITS, {"USDT": Decimal(usdt)})


def test_market_buy_waits_for_the_next_price_and_pays_slippage_and_fee() -> None:
    """A market buy fills at the next price + slippage rounded up to the tick, fee in quote."""
    ex = sim()
    ex.submit_market("c1", "BTC/USDT", "buy", Decimal("0.01"))
    (fill,) = ex.on_price("BTC/USDT", 20000.0, 1)
    assert isinstance(fill, OrderFilled)
    assert fill.price == Decimal("20004.00")
    assert fill.fee == Decimal("0.01") * Decimal("20004.00") * Decimal("0.001")
    assert ex.balances["BTC"] == Decimal("0.01")
    assert ex.balances["USDT"] == Decimal(1000) - Decimal("200.04") - fill.fee
    assert ex.on_price("BTC/USDT", 20001.0, 2) == []


def test_market_sell_at_reference_price_rounds_down() -> None:
    """An immediate sell fills at the reference price minus slippage, rounded down to the tick."""
    ex = sim()
    ex.balances["BTC"] = Decimal("0.01")
    fill = ex.execute_now("c2", "BTC/USDT", "sell", Decimal("0.01"), 20000.0, 5)
    assert isinstance(fill, OrderFilled) and fill.price == Decimal("19996.00")


def test_insufficient_balance_is_rejected_and_changes_nothing() -> None:
    """A buy the quote balance cannot pay is rejected; balances are untouched."""
    ex = sim(usdt="10")
    ex.submit_market("c3", "BTC/USDT", "buy", Decimal("0.01"))
    (res,) = ex.on_price("BTC/USDT", 20000.0, 1)
    assert isinstance(res, OrderRejected) and ex.balances == {"USDT": Decimal(10)}


def test_duplicate_client_id_is_refused() -> None:
    """The same client order id can never be accepted twice."""
    ex = sim()
    ex.submit_market("dup", "BTC/USDT", "buy", Decimal("0.001"))
    with pytest.raises(ValueError, match="duplicate"):
        ex.submit_market("dup", "BTC/USDT", "buy", Decimal("0.001"))


def test_limit_order_fills_partially_by_candle_volume() -> None:
    """A limit buy crossed by a candle takes at most 10 % of its volume; the rest keeps resting."""
    ex = sim(usdt="100000")
    ex.submit_limit("L1", "BTC/USDT", "buy", Decimal("0.5"), Decimal("19990"))
    assert ex.on_candle("BTC/USDT", 20010.0, 19995.0, 10.0, 1) == []  # not crossed
    (f1,) = ex.on_candle("BTC/USDT", 20000.0, 19980.0, 3.0, 2)
    assert isinstance(f1, OrderFilled) and f1.qty == Decimal("0.300") and f1.price == 19990
    (f2,) = ex.on_candle("BTC/USDT", 20000.0, 19980.0, 30.0, 3)
    assert isinstance(f2, OrderFilled) and f2.qty == Decimal("0.200")
    assert "L1" not in ex.resting
    assert ex.balances["BTC"] == Decimal("0.5")


def test_cancel_removes_a_resting_order() -> None:
    """A cancelled order never fills."""
    ex = sim()
    ex.submit_limit("L2", "BTC/USDT", "buy", Decimal("0.01"), Decimal("19000"))
    assert ex.cancel("L2") and not ex.cancel("L2")
    assert ex.on_candle("BTC/USDT", 20000.0, 18000.0, 100.0, 1) == []
