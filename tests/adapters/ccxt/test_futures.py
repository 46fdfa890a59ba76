"""USDT-M futures through the fake: markets, market order, reduce-only stop-market."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from optiflow.ports.exchange import OrderRequest
from tests.adapters.ccxt.conftest import make_gateway
from tests.fakes.binance import FakeBinance

SYM = "BTC/USDT"


def test_futures_markets_order_and_reduce_only_stop(fake: FakeBinance) -> None:
    """Futures: limits load, a market buy fills with fee, a reduce-only stop rests and fires."""

    async def main() -> None:
        gw = make_gateway(fake, market="futures")
        try:
            limits = await asyncio.wait_for(gw.load_markets(), 10)
            assert limits[SYM].amount_step == Decimal("0.00001")
            assert limits[SYM].min_notional == Decimal("5")
            fake.ledger.set_book("BTCUSDT", "30000", "30001")
            o = await asyncio.wait_for(
                gw.submit_order(OrderRequest("f-e1", SYM, "buy", "market", Decimal("0.01"))), 10
            )
            assert (o.state, o.avg_price) == ("filled", Decimal(30001))
            assert o.fee_quote == Decimal("0.12000400")
            stop = await asyncio.wait_for(
                gw.submit_order(
                    OrderRequest(
                        "f-sl",
                        SYM,
                        "sell",
                        "stop_market",
                        Decimal("0.01"),
                        stop_price=Decimal("29000"),
                        reduce_only=True,
                    )
                ),
                10,
            )
            assert stop.state == "open"
            opened = await asyncio.wait_for(gw.fetch_open_orders(SYM), 10)
            assert [x.client_id for x in opened] == ["f-sl"]
            fake.ledger.set_book("BTCUSDT", "28990", "28991")
            fired = await asyncio.wait_for(gw.fetch_order(SYM, "f-sl"), 10)
            assert fired is not None and fired.state == "filled"
            assert fake.ledger.positions["BTCUSDT"][0] == 0
            bal = await asyncio.wait_for(gw.fetch_balances(), 10)
            assert bal["USDT"] < Decimal(10000)
        finally:
            await asyncio.wait_for(gw.close(), 10)

    asyncio.run(main())
    sent = fake.calls("POST", "/fapi/v1/algoOrder")[0]
    assert (sent["type"], sent["reduceOnly"], sent["clientAlgoId"]) == (
        "STOP_MARKET",
        "true",
        "f-sl",
    )


def test_futures_cancel_stop(fake: FakeBinance) -> None:
    """A resting futures stop is found and cancelled by client id."""

    async def main() -> None:
        gw = make_gateway(fake, market="futures")
        try:
            await asyncio.wait_for(gw.load_markets(), 10)
            fake.ledger.set_book("BTCUSDT", "30000", "30001")
            await asyncio.wait_for(
                gw.submit_order(OrderRequest("f-e2", SYM, "buy", "market", Decimal("0.01"))), 10
            )
            await asyncio.wait_for(
                gw.submit_order(
                    OrderRequest(
                        "f-s2",
                        SYM,
                        "sell",
                        "stop_market",
                        Decimal("0.01"),
                        stop_price=Decimal("29000"),
                        reduce_only=True,
                    )
                ),
                10,
            )
            gone = await asyncio.wait_for(gw.cancel_order(SYM, "f-s2"), 10)
            assert gone is not None and gone.state == "cancelled"
            assert await asyncio.wait_for(gw.fetch_open_orders(SYM), 10) == []
        finally:
            await asyncio.wait_for(gw.close(), 10)

    asyncio.run(main())
