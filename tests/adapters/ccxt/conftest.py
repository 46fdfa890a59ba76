"""Fixtures: a fake Binance on a free port and ccxt gateways pointed at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.adapters.ccxt.factory import ExchangeSpec, MarketKind  # noqa: E402
from optiflow.adapters.ccxt.gateway import CcxtGateway  # noqa: E402
from optiflow.adapters.ccxt.retry import RetryPolicy  # noqa: E402
from tests.fakes.binance import FakeBinance  # noqa: E402
from tests.fakes.binance_ledger import load_candles  # noqa: E402

KEY, SECRET = "k-ABCDEF0123456789", "s-TOPSECRET-9f8e7d6c5b4a"
DATA = REPO / "data" / "binance_spot_1m" / "BTC-USDT_1m.csv.gz"


@dataclass
class Sleeps:
    """An injected sleep that records the waits and returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        """Record ``seconds``."""
        self.waits.append(seconds)


@dataclass
class FakeClock:
    """The fake exchange's clock as our Clock port."""

    fake: FakeBinance

    def now_ms(self) -> int:
        """The fake's now."""
        return self.fake.ledger.now_ms()

    async def sleep_until(self, ts_ms: int) -> None:
        """Not needed here."""


@dataclass
class CcxtHarness:
    """The contract harness for the ccxt gateway on the fake."""

    fake: FakeBinance
    gateway: CcxtGateway
    candle_ts: list[int]

    def set_book(self, symbol: str, bid: str, ask: str) -> None:
        """Move the fake's book."""
        self.fake.ledger.set_book(symbol.replace("/", ""), bid, ask)

    def count_orders(self, client_id: str) -> int:
        """Orders in the fake with this client id."""
        return sum(1 for o in self.fake.ledger.orders if o.client_id == client_id)


@pytest.fixture(scope="session")
def candles() -> list[list[float]]:
    """The first 200 real BTC/USDT 1m candles of the repo data."""
    return load_candles(DATA)[:200]


@pytest.fixture
def fake(candles: list[list[float]]) -> Iterator[FakeBinance]:
    """A fresh fake Binance with BTC/USDT, 10 000 USDT and real candles; unknown hits fail."""
    fb = FakeBinance(api_key=KEY, secret=SECRET)
    led = fb.ledger
    led.add_market("BTC", "USDT", tick="0.01", step="0.00001", min_notional="5")
    led.set_balance("USDT", "10000")
    led.wallet["USDT"] = Decimal(10000)
    led.set_candles("BTCUSDT", candles)
    led.fixed_now_ms = int(candles[-1][0]) + 30_000  # the last candle is still forming
    fb.start()
    yield fb
    fb.stop()
    assert fb.unknown == [], f"unknown endpoints hit: {fb.unknown}"


def make_gateway(
    fake: FakeBinance,
    *,
    market: MarketKind = "spot",
    secret: str = SECRET,
    sleeps: Sleeps | None = None,
    timeout_ms: int = 3000,
    attempts: int = 5,
) -> CcxtGateway:
    """A CcxtGateway on the fake; retries sleep through ``sleeps`` when given."""
    spec = ExchangeSpec(
        "binance", market, KEY, secret, api_base_url=fake.url, timeout_ms=timeout_ms
    )
    policy = RetryPolicy(max_attempts=attempts, base_delay=0.05, budget_s=30)
    if sleeps is not None:
        policy = RetryPolicy(max_attempts=attempts, base_delay=0.05, budget_s=30, sleep=sleeps)
    gw = CcxtGateway.from_spec(spec, retry=policy, clock=FakeClock(fake))
    gw.exchange.enableRateLimit = False
    return gw
