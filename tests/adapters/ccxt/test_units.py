"""Unit tests of the ccxt edge helpers: URL rebasing, retry, rate budget, parsing, errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import ccxt  # type: ignore[import-untyped]
import pytest

from optiflow.adapters.ccxt.errors import RejectedError, map_ccxt_error
from optiflow.adapters.ccxt.factory import ExchangeSpec, build_exchange, rebase_url
from optiflow.adapters.ccxt.parse import parse_candles, parse_market_limits
from optiflow.adapters.ccxt.ratelimit import FileWeightBudget, WeightBudget
from optiflow.adapters.ccxt.retry import RetryPolicy, retry_call
from optiflow.domain.errors import RetryableError, SkipError, StopError
from tests.adapters.ccxt.conftest import REPO, Sleeps


def test_rebase_keeps_exchange_paths() -> None:
    """Every REST URL moves to the base; paths (and a base prefix) are kept; ws untouched."""
    assert rebase_url("https://fapi.binance.com/fapi/v1", "http://h:9/p/") == "http://h:9/p/fapi/v1"
    ex = build_exchange(ExchangeSpec("binance", api_base_url="http://127.0.0.1:1"))
    api = ex.urls["api"]
    assert api["public"] == "http://127.0.0.1:1/api/v3"
    assert api["sapi"] == "http://127.0.0.1:1/sapi/v1"
    assert ex.options["fetchMarkets"]["types"] == ["spot"]
    asyncio.run(asyncio.wait_for(ex.close(), 5))


def test_spec_repr_hides_keys() -> None:
    """ExchangeSpec's repr never shows the keys."""
    spec = ExchangeSpec("binance", api_key="KEY-123", secret="SEC-456")
    assert "KEY-123" not in repr(spec) and "SEC-456" not in repr(spec)


def test_retry_only_retryable_and_gives_up() -> None:
    """SkipError is not retried; RetryableError stops after max_attempts."""
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=3, sleep=sleeps, rand=lambda: 0.5)
    calls: list[int] = []

    async def skip() -> None:
        calls.append(1)
        raise SkipError("no")

    async def flaky() -> None:
        calls.append(1)
        raise RetryableError("later")

    with pytest.raises(SkipError):
        asyncio.run(asyncio.wait_for(retry_call(skip, policy), 5))
    assert len(calls) == 1
    with pytest.raises(RetryableError):
        asyncio.run(asyncio.wait_for(retry_call(flaky, policy), 5))
    assert len(calls) == 4 and sleeps.waits == [0.5, 1.0]


def test_token_bucket_waits_when_empty() -> None:
    """Taking more than the capacity makes the caller wait for the refill."""
    sleeps = Sleeps()
    b = WeightBudget(10, 5, clock=lambda: 0.0, sleep=sleeps)
    assert asyncio.run(asyncio.wait_for(b.acquire(10), 5)) == 0
    assert asyncio.run(asyncio.wait_for(b.acquire(5), 5)) == 1.0


def test_file_budget_is_shared(tmp_path: Path) -> None:
    """Two budgets on one file (two bots) draw from the same bucket."""
    sleeps = Sleeps()
    a = FileWeightBudget(tmp_path / "acct.json", 10, 5, clock=lambda: 100.0, sleep=sleeps)
    b = FileWeightBudget(tmp_path / "acct.json", 10, 5, clock=lambda: 100.0, sleep=sleeps)
    asyncio.run(asyncio.wait_for(a.acquire(8), 5))
    assert asyncio.run(asyncio.wait_for(b.acquire(4), 5)) == pytest.approx(0.4)


def test_parse_candles_drops_forming_and_limits() -> None:
    """The candle whose minute is not over is dropped; steps come from TICK_SIZE precision."""
    rows = [[0, 1, 2, 0.5, 1.5, 10], [60_000, 1, 2, 0.5, 1.5, 10]]
    assert [c.ts for c in parse_candles(rows, timeframe="1m", now_ms=119_999)] == [0]
    lim = parse_market_limits(
        {
            "precision": {"price": 0.01, "amount": 1e-05},
            "limits": {"amount": {"min": 1e-05}, "cost": {"min": 5.0}},
        }
    )
    assert (lim.price_tick, lim.amount_step, lim.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("5.0"),
    )


def test_error_mapping_taxonomy() -> None:
    """ccxt exceptions land in stop / skip / retry."""
    assert isinstance(map_ccxt_error(ccxt.AuthenticationError("x")), StopError)
    assert isinstance(map_ccxt_error(ccxt.BadSymbol("x")), StopError)
    assert isinstance(map_ccxt_error(ccxt.InsufficientFunds("x")), SkipError)
    assert isinstance(map_ccxt_error(ccxt.RequestTimeout("x")), RetryableError)
    assert isinstance(map_ccxt_error(ccxt.OnMaintenance("x")), RetryableError)
    err = map_ccxt_error(ccxt.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'))
    assert isinstance(err, RejectedError) and err.reason == "min_notional"
    assert "SECRET" not in str(map_ccxt_error(ccxt.ExchangeError("bad SECRET"), secrets=["SECRET"]))


def test_fake_runs_standalone() -> None:
    """``python tests/fakes/binance.py --port 0 --print-port`` serves exchangeInfo."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests/fakes/binance.py"), "--port", "0", "--print-port"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = json.loads(proc.stdout.readline())["port"]
        url = f"http://127.0.0.1:{port}/api/v3/exchangeInfo"
        with urllib.request.urlopen(url, timeout=5) as r:
            assert json.load(r)["symbols"][0]["symbol"] == "BTCUSDT"
    finally:
        proc.terminate()
        proc.wait(5)


def test_parse_book_gives_the_bid_share_of_the_top_five_levels() -> None:
    """Order-book imbalance = bid quantity / (bid + ask quantity) over five levels each side."""
    from optiflow.adapters.ccxt.parse import parse_book

    ob = {
        "bids": [[100.0, 3.0], [99.9, 1.0]] + [[99.0, 0.0]] * 5,
        "asks": [[100.1, 1.0], [100.2, 1.0]],
        "timestamp": 5,
    }
    top = parse_book(ob, now_ms=1)
    assert (top.bid, top.ask, top.ts) == (100.0, 100.1, 5)
    assert top.imbalance == 4.0 / 6.0
    assert parse_book({"bid": 1.0, "ask": 2.0}, now_ms=1).imbalance != 0.5  # NaN: unknown
