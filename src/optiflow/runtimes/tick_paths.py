"""Finer data for candle backtests: the real price path and book of a candle from ticks.

A candle covered by a tick capture is played as its trades, in exchange order: the first
trade of the candle is a jump, each later one is swept from the trade before it (trades
are the actual path). Candles outside every capture keep the synthetic four-price path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optiflow.domain.errors import DataError
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.ticks import TickData, TradeArrays


@dataclass(frozen=True, slots=True)
class PathPoint:
    """One price of a bar's path: ``fills`` shows it to waiting market orders."""

    ts: int
    symbol_index: int
    price: float
    swept_from: float | None
    fills: bool
    quote: tuple[float, float] | None  # (bid, ask) at that time, None: no book


def candles_from_trades(
    trades: TradeArrays, timeframe_ms: int, symbol: str = "BTC/USDT"
) -> CandleArrays:
    """OHLCV candles of the periods that have trades (empty periods are gaps, not filled)."""
    if timeframe_ms <= 0:
        raise DataError(f"timeframe {timeframe_ms} ms: must be positive")
    if len(trades.ts) == 0:
        raise DataError(f"{symbol}: no trades to build candles from")
    if (np.diff(trades.ts) < 0).any():
        raise DataError(f"{symbol}: trades are not in time order")
    bucket = trades.ts // timeframe_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(bucket)]
    price, qty = trades.price, trades.qty
    return CandleArrays(
        symbol,
        timeframe_ms,
        (bucket[starts] * timeframe_ms).astype(np.int64),
        price[starts].astype(np.float64),
        np.maximum.reduceat(price, starts).astype(np.float64),
        np.minimum.reduceat(price, starts).astype(np.float64),
        price[ends - 1].astype(np.float64),
        np.add.reduceat(qty, starts).astype(np.float64),
    )


def quote_at(tick: TickData, ts: int) -> tuple[float, float] | None:
    """The last (bid, ask) update at or before ``ts``, or None if there is none."""
    k = int(np.searchsorted(tick.book.ts, ts, side="right")) - 1
    if k < 0:
        return None
    return float(tick.book.bid[k]), float(tick.book.ask[k])


def spread_pct(quote: tuple[float, float]) -> float:
    """(ask - bid) / mid x 100."""
    bid, ask = quote
    return (ask - bid) / ((ask + bid) / 2.0) * 100.0


def trade_path(tick: TickData, i: int, start: int, end: int) -> list[PathPoint]:
    """The trades of [start, end) as path points of symbol ``i``, each with its quote."""
    tr = tick.trades
    lo = int(np.searchsorted(tr.ts, start, side="left"))
    hi = int(np.searchsorted(tr.ts, end, side="left"))
    if hi <= lo:
        return []
    ts = tr.ts[lo:hi].tolist()
    prices = tr.price[lo:hi].tolist()
    book = tick.book
    k = np.searchsorted(book.ts, tr.ts[lo:hi], side="right") - 1
    known = (k >= 0).tolist()
    at = np.maximum(k, 0)
    bids = book.bid[at].tolist() if len(book.ts) else [0.0] * len(ts)
    asks = book.ask[at].tolist() if len(book.ts) else [0.0] * len(ts)
    out = []
    prev: float | None = None
    for j, (t, p) in enumerate(zip(ts, prices, strict=True)):
        q = (bids[j], asks[j]) if known[j] else None
        out.append(PathPoint(int(t), i, float(p), prev, True, q))
        prev = float(p)
    return out


def candle_path(
    i: int, ts0: int, timeframe_ms: int, ohlc: tuple[float, float, float, float]
) -> list[PathPoint]:
    """The synthetic path of a candle: open (a jump), low, high, close (each swept)."""
    offsets = (0, timeframe_ms // 4, timeframe_ms // 2, timeframe_ms - 1)
    out = []
    for k in range(4):
        swept = None if k == 0 else ohlc[k - 1]
        out.append(PathPoint(ts0 + offsets[k], i, ohlc[k], swept, k in (0, 3), None))
    return out
