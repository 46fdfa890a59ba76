"""Tests of the tick loaders on the bundled BTCUSDT spot capture."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from optiflow.domain.errors import DataError
from optiflow.marketdata.ticks import load_book_ticker, load_trades

TICKS = Path(__file__).resolve().parents[2] / "data" / "ticks"
STEM = "binance_spot_BTCUSDT_20240808-20240809"


def test_book_ticker_uses_receive_clock_in_ms() -> None:
    """Spot bookTicker ts is local_recv_ns // 1e6; the book is never crossed."""
    b = load_book_ticker(TICKS / f"{STEM}_bookTicker.csv.gz")
    assert len(b.ts) == 73_174 and b.ts.dtype == np.int64
    assert b.ts[0] == 1_723_161_254_087 and b.bid[0] == 61837.63 and b.ask[0] == 61837.64
    assert (b.ask > b.bid).all() and (np.diff(b.ts) >= 0).all()


def test_trades_use_exchange_trade_time() -> None:
    """Trades carry the exchange trade time in ms, price and quantity."""
    t = load_trades(TICKS / f"{STEM}_trades.csv.gz")
    assert len(t.ts) == 19_904
    assert (t.ts[0], t.price[0], t.qty[0]) == (1_723_161_255_342, 61837.63, 0.02)


def test_missing_columns_are_reported(tmp_path: Path) -> None:
    """A file without the needed columns is a DataError naming the file."""
    p = tmp_path / "x.csv.gz"
    p.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(DataError, match="lacks the columns"):
        load_trades(p)
