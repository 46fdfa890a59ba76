"""The ExchangeGateway contract suite, run against the ccxt gateway on the fake Binance."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from tests.adapters.ccxt.conftest import CcxtHarness, make_gateway
from tests.adapters.ccxt.contract import CONTRACT_CHECKS, Harness
from tests.fakes.binance import FakeBinance


@pytest.mark.parametrize("check", CONTRACT_CHECKS, ids=lambda c: c.__name__)
def test_ccxt_gateway_contract(
    fake: FakeBinance, candles: list[list[float]], check: Callable[[Harness], Awaitable[None]]
) -> None:
    """The ccxt gateway on the fake passes each contract check over real HTTP."""

    async def run() -> None:
        gw = make_gateway(fake)
        try:
            await asyncio.wait_for(gw.load_markets(), 10)
            await check(CcxtHarness(fake, gw, [int(r[0]) for r in candles]))
        finally:
            await asyncio.wait_for(gw.close(), 10)

    asyncio.run(run())
