"""The websocket price feed: real ccxt.pro against the fake Binance websocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from optiflow.adapters.ccxt.factory import ExchangeSpec
from optiflow.adapters.ccxt.ws_feed import WsPriceFeed, build_pro_exchange, supports_websocket
from optiflow.ports.feed import PriceFeed, PriceQuote
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_ws import FakeBinanceWs

STREAM = "btcusdt@bookTicker"


@pytest.fixture
def fake_ws() -> Iterator[FakeBinanceWs]:
    """A fake Binance websocket on a free port."""
    fw = FakeBinanceWs().start()
    yield fw
    fw.stop()


def make_feed(fake: FakeBinance, fake_ws: FakeBinanceWs) -> WsPriceFeed:
    """A feed on real ccxt.pro pointed at the fakes, with quick back-off."""
    spec = ExchangeSpec("binance", "spot", api_base_url=fake.url, ws_base_url=fake_ws.url)
    return WsPriceFeed.from_spec(spec, watch_timeout_s=5, backoff_s=0.05, max_backoff_s=0.2)


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (real time) until ``cond()`` holds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def next_quote(feed: PriceFeed) -> PriceQuote:
    """The next quote the feed yields (bounded wait)."""
    it = aiter(feed)
    return await asyncio.wait_for(anext(it), 5)


def test_urls_are_rebased_and_binance_is_supported(fake: FakeBinance) -> None:
    """The ws base replaces Binance's stream host, keeping the ``/ws`` path; REST goes too."""
    spec = ExchangeSpec("binance", "spot", api_base_url=fake.url, ws_base_url="ws://h:1")
    ex = build_pro_exchange(spec)
    assert ex.urls["api"]["ws"]["spot"] == "ws://h:1/ws"
    assert ex.urls["api"]["public"].startswith(fake.url + "/api/v3")
    assert supports_websocket(spec)
    assert supports_websocket(ExchangeSpec("binance", "futures"))


def test_feed_receives_pushed_quotes(fake: FakeBinance, fake_ws: FakeBinanceWs) -> None:
    """Subscribes with Binance's message, and each pushed bookTicker comes out as a quote."""

    async def go() -> None:
        feed = make_feed(fake, fake_ws)
        try:
            await asyncio.wait_for(feed.start(["BTC/USDT"]), 5)
            await until(lambda: fake_ws.subscribed(STREAM) == 1)
            sub = next(m for m in fake_ws.messages if m.get("method") == "SUBSCRIBE")
            assert sub["params"] == [STREAM] and isinstance(sub["id"], int)
            assert fake_ws.push_book("BTCUSDT", "30000.5", "30000.6") == 1
            q = await next_quote(feed)
            assert (q.symbol, q.book.bid, q.book.ask) == ("BTC/USDT", 30000.5, 30000.6)
            assert feed.connected
            fake_ws.push_book("BTCUSDT", "30001", "30001.1")
            q = await next_quote(feed)
            assert q.book.bid == 30001.0
        finally:
            await asyncio.wait_for(feed.close(), 10)
        assert not feed.connected

    asyncio.run(go())


def test_quotes_coalesce_to_the_latest(fake: FakeBinance, fake_ws: FakeBinanceWs) -> None:
    """A reader that falls behind gets the newest quote, not a backlog."""

    async def go() -> None:
        feed = make_feed(fake, fake_ws)
        try:
            await asyncio.wait_for(feed.start(["BTC/USDT"]), 5)
            await until(lambda: fake_ws.subscribed(STREAM) == 1)
            for px in ("100", "101", "102"):
                fake_ws.push_book("BTCUSDT", px, px + ".5")
            await until(lambda: feed.latest.get("BTC/USDT") is not None)
            await until(lambda: feed.latest["BTC/USDT"].bid == 102.0)
            q = await next_quote(feed)
            assert q.book.bid == 102.0
        finally:
            await asyncio.wait_for(feed.close(), 10)

    asyncio.run(go())


def test_feed_reconnects_after_the_server_drops(fake: FakeBinance, fake_ws: FakeBinanceWs) -> None:
    """A dropped connection marks the feed down; it backs off, resubscribes, quotes flow again."""

    async def go() -> None:
        feed = make_feed(fake, fake_ws)
        try:
            await asyncio.wait_for(feed.start(["BTC/USDT"]), 5)
            await until(lambda: fake_ws.subscribed(STREAM) == 1)
            fake_ws.push_book("BTCUSDT", "200", "200.1")
            assert (await next_quote(feed)).book.bid == 200.0
            fake_ws.refuse(600)  # until the drop is seen: a fixed window could end unseen
            await asyncio.to_thread(fake_ws.drop_connections)
            await until(lambda: not feed.connected)
            await until(lambda: feed.errors >= 2)  # the reconnects are refused, it retries
            fake_ws.refuse(0)
            await until(lambda: fake_ws.subscribed(STREAM) == 1, timeout=10)
            assert fake_ws.connections_made >= 2
            fake_ws.push_book("BTCUSDT", "201", "201.1")
            assert (await next_quote(feed)).book.bid == 201.0
            assert feed.connected and feed.errors >= 1 and feed.reconnects >= 1
        finally:
            await asyncio.wait_for(feed.close(), 10)

    asyncio.run(go())


def test_feed_survives_a_dead_endpoint(fake: FakeBinance) -> None:
    """Nothing listening: the feed keeps retrying quietly and never raises."""

    async def go() -> None:
        dead = FakeBinanceWs().start()
        url = dead.url
        dead.stop()  # the port is now closed
        spec = ExchangeSpec("binance", "spot", api_base_url=fake.url, ws_base_url=url)
        feed = WsPriceFeed.from_spec(spec, watch_timeout_s=2, backoff_s=0.02, max_backoff_s=0.05)
        try:
            await asyncio.wait_for(feed.start(["BTC/USDT"]), 5)
            await until(lambda: feed.errors >= 2)
            assert not feed.connected
        finally:
            await asyncio.wait_for(feed.close(), 10)

    asyncio.run(go())
