"""Shared fixtures of the market data tests: the bundled real Binance candles."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from optiflow.marketdata.loaders import CandleArrays, load_candles

SPOT_1M = Path(__file__).resolve().parents[2] / "data" / "binance_spot_1m"


@cache
def _real(symbol: str) -> CandleArrays:
    """Load (once per session) the bundled 1m spot candles of e.g. ``BTC-USDT``."""
    return load_candles(SPOT_1M / f"{symbol}_1m.csv.gz")


@pytest.fixture(scope="session")
def spot_dir() -> Path:
    """Folder of the bundled 1m spot candles (nine pairs)."""
    return SPOT_1M


@pytest.fixture(scope="session")
def real() -> Callable[[str], CandleArrays]:
    """Loader of bundled candles by file prefix, cached for the session."""
    return _real


@pytest.fixture(scope="session")
def btc() -> CandleArrays:
    """BTC/USDT 1m spot, 2023-03-16 .. 2023-05-01, with the 2023-03-24 halt and gap."""
    return _real("BTC-USDT")
