"""Fault injection against the fake Binance: timeouts, 5xx, rate limits, rejects, outages."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from optiflow.adapters.ccxt.errors import RateLimitedError, RejectedError
from optiflow.adapters.ccxt.gateway import CcxtGateway
from optiflow.domain.errors import RetryableError, StopError
from optiflow.ports.exchange import OrderRequest
from tests.adapters.ccxt.conftest import KEY, SECRET, Sleeps, make_gateway
from tests.fakes.binance import FakeBinance

SYM = "BTC/USDT"


def run(fake: FakeBinance, body: Callable[[CcxtGateway], Awaitable[None]], **kw: object) -> None:
    """Run ``body`` with a gateway whose markets are loaded, closing it afterwards."""

    async def main() -> None:
        gw = make_gateway(fake, **kw)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(gw.load_markets(), 10)
            await body(gw)
        finally:
            await asyncio.wait_for(gw.close(), 10)

    asyncio.run(main())


def buy(cid: str, qty: str = "0.001") -> OrderRequest:
    """A market buy of BTC/USDT."""
    return OrderRequest(cid, SYM, "buy", "market", Decimal(qty))


def test_timeout_after_accept_is_resolved_by_lookup(fake: FakeBinance) -> None:
    """A late answer raises RetryableError; fetch_order then finds the one order."""
    fake.delay_next_order(2.0)

    async def body(gw: CcxtGateway) -> None:
        with pytest.raises(RetryableError):
            await asyncio.wait_for(gw.submit_order(buy("c-to")), 10)
        got = await asyncio.wait_for(gw.fetch_order(SYM, "c-to"), 10)
        assert got is not None and got.state == "filled"

    run(fake, body, timeout_ms=500)
    assert len(fake.calls("POST", "/api/v3/order")) == 1
    assert sum(o.client_id == "c-to" for o in fake.ledger.orders) == 1


def test_5xx_burst_is_retried_for_reads(fake: FakeBinance) -> None:
    """Three 503s on the book are retried with growing back-off, then it succeeds."""
    sleeps = Sleeps()

    async def body(gw: CcxtGateway) -> None:
        fake.fail_next(3, 503, path="/api/v3/depth")
        top = await asyncio.wait_for(gw.fetch_book_top(SYM), 10)
        assert top.bid > 0

    run(fake, body, sleeps=sleeps)
    assert len(sleeps.waits) == 3 and sleeps.waits[0] < sleeps.waits[2]
    assert len(fake.calls("GET", "/api/v3/depth")) == 4


def test_5xx_on_submit_is_not_resubmitted(fake: FakeBinance) -> None:
    """A 502 on submit raises RetryableError at once: the gateway never resubmits."""
    sleeps = Sleeps()

    async def body(gw: CcxtGateway) -> None:
        fake.fail_next(1, 502, path="/api/v3/order")
        with pytest.raises(RetryableError):
            await asyncio.wait_for(gw.submit_order(buy("c-5x")), 10)
        assert await asyncio.wait_for(gw.fetch_order(SYM, "c-5x"), 10) is None

    run(fake, body, sleeps=sleeps)
    assert sleeps.waits == []


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limit_retry_after_is_honoured(fake: FakeBinance, status: int) -> None:
    """429/418 with Retry-After: 7 make the retry wait at least 7 s (via injected sleep)."""
    sleeps = Sleeps()

    async def body(gw: CcxtGateway) -> None:
        fake.fail_next(1, status, retry_after=7, path="/api/v3/account")
        bal = await asyncio.wait_for(gw.fetch_balances(), 10)
        assert bal["USDT"] == Decimal(10000)

    run(fake, body, sleeps=sleeps)
    assert len(sleeps.waits) == 1 and sleeps.waits[0] >= 7


def test_rate_limit_error_carries_retry_after(fake: FakeBinance) -> None:
    """When retries run out, the RateLimitedError keeps the Retry-After seconds."""

    async def body(gw: CcxtGateway) -> None:
        fake.fail_next(1, 429, retry_after=3, path="/api/v3/account")
        with pytest.raises(RateLimitedError) as info:
            await asyncio.wait_for(gw.fetch_balances(), 10)
        assert info.value.retry_after == 3

    run(fake, body, attempts=1)


def test_insufficient_balance_is_skip(fake: FakeBinance) -> None:
    """Buying more than the balance covers is a SkipError (insufficient_funds)."""

    async def body(gw: CcxtGateway) -> None:
        with pytest.raises(RejectedError) as info:
            await asyncio.wait_for(gw.submit_order(buy("c-ib", "1")), 10)
        assert info.value.reason == "insufficient_funds"

    run(fake, body)


def test_min_notional_is_skip(fake: FakeBinance) -> None:
    """An order under the min notional is a SkipError (min_notional)."""

    async def body(gw: CcxtGateway) -> None:
        with pytest.raises(RejectedError) as info:
            await asyncio.wait_for(gw.submit_order(buy("c-mn", "0.0001")), 10)
        assert info.value.reason == "min_notional"

    run(fake, body)


def test_bad_signature_is_stop_and_secret_never_leaks(fake: FakeBinance) -> None:
    """A wrong secret gives StopError; neither key appears in the error or the logs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.DEBUG)
    wrong = "s-WRONGSECRET-0000"
    try:

        async def body(gw: CcxtGateway) -> None:
            with pytest.raises(StopError) as info:
                await asyncio.wait_for(gw.fetch_balances(), 10)
            text = str(info.value) + repr(info.value)
            for s in (wrong, KEY, SECRET):
                assert s not in text
            assert "Signature" in text

        run(fake, body, secret=wrong)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    logs = stream.getvalue()
    assert "GET" in logs  # ccxt's debug log was captured
    for s in (wrong, KEY):
        assert s not in logs


def test_partial_fill_is_reported_partial(fake: FakeBinance) -> None:
    """A limit order half filled by a price move reads back as ``partial``."""

    async def body(gw: CcxtGateway) -> None:
        fake.ledger.set_book("BTCUSDT", "30000", "30001")
        await asyncio.wait_for(
            gw.submit_order(
                OrderRequest("c-pf", SYM, "buy", "limit", Decimal("0.002"), Decimal("29900"))
            ),
            10,
        )
        fake.ledger.partial_fraction = Decimal("0.5")
        fake.ledger.set_book("BTCUSDT", "29890", "29895")
        got = await asyncio.wait_for(gw.fetch_order(SYM, "c-pf"), 10)
        assert got is not None and got.state == "partial" and got.filled == Decimal("0.001")
        assert got.fee_quote > 0
        open_ = await asyncio.wait_for(gw.fetch_open_orders(SYM), 10)
        assert [o.state for o in open_] == ["partial"]

    run(fake, body)


def test_network_down_two_seconds_then_back(fake: FakeBinance) -> None:
    """Connections drop for 2 s; the read retries (real sleeps) and succeeds after."""

    async def body(gw: CcxtGateway) -> None:
        await asyncio.wait_for(gw.fetch_balances(), 10)  # keep-alive connection open
        t0 = time.monotonic()  # before the outage: no answer can come sooner than 2 s after
        fake.network_down(2.0)
        gw.retry = type(gw.retry)(max_attempts=20, base_delay=0.2, max_delay=0.5, budget_s=10)
        bal = await asyncio.wait_for(gw.fetch_balances(), 15)
        assert bal["USDT"] == Decimal(10000)
        assert time.monotonic() - t0 >= 2.0

    run(fake, body)


def test_stop_loss_limit_on_spot(fake: FakeBinance) -> None:
    """A spot stop-loss-limit is sent as STOP_LOSS_LIMIT with stopPrice and triggers."""

    async def body(gw: CcxtGateway) -> None:
        fake.ledger.set_book("BTCUSDT", "30000", "30001")
        await asyncio.wait_for(gw.submit_order(buy("c-sl-entry", "0.002")), 10)
        o = await asyncio.wait_for(
            gw.submit_order(
                OrderRequest(
                    "c-sl",
                    SYM,
                    "sell",
                    "stop_loss_limit",
                    Decimal("0.001"),
                    Decimal("29000"),
                    Decimal("29100"),
                )
            ),
            10,
        )
        assert (o.state, o.type) == ("open", "stop_loss_limit")
        fake.ledger.set_book("BTCUSDT", "29050", "29051")
        got = await asyncio.wait_for(gw.fetch_order(SYM, "c-sl"), 10)
        assert got is not None and got.state == "filled"

    run(fake, body)
    sent = fake.calls("POST", "/api/v3/order")[-1]
    assert (sent["type"], sent["stopPrice"], sent["newClientOrderId"]) == (
        "STOP_LOSS_LIMIT",
        "29100",
        "c-sl",
    )


def test_skip_error_for_cancel_of_unknown_is_none(fake: FakeBinance) -> None:
    """Cancelling an order the exchange never saw returns None, not an error."""

    async def body(gw: CcxtGateway) -> None:
        assert await asyncio.wait_for(gw.cancel_order(SYM, "ghost"), 10) is None

    run(fake, body)
