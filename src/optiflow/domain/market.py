"""Market data value types: candles, book tops and per-candle indicator features."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple


class Candle(NamedTuple):
    """One OHLCV candle; ``ts`` is the candle's open time in ms since the epoch, UTC."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Features(NamedTuple):
    """Indicator values of one closed candle (NaN until warmed up).

    Every field also works as a numpy array (one value per candle), so the signal and
    filter functions are written once and run on a single candle or on a whole history.
    """

    ts: int
    close: float
    prev_close: float
    volume: float
    ema_fast: float
    ema_slow: float
    ema_fast_prev: float
    ema_slow_prev: float
    rsi: float
    macd_hist: float
    macd_hist_prev: float
    atr: float
    atr_median: float
    vol_median: float
    highest_high: float
    vwap: float
    vwap_prev: float
    tradeable: (
        float  # 1.0 when the candle traded (volume > 0) and follows its predecessor without a gap
    )


NO_IMBALANCE = float("nan")  # a book without depth: one NaN object, so such books compare equal


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask of one symbol at one moment."""

    ts: int
    bid: float
    ask: float
    imbalance: float = NO_IMBALANCE  # bid share of the quantity on the top book levels


@dataclass(frozen=True, slots=True)
class MarketLimits:
    """Exchange precision and limits of one symbol (from ccxt ``load_markets`` or a table)."""

    price_tick: Decimal
    amount_step: Decimal
    min_amount: Decimal
    min_notional: Decimal
