"""The signal catalogue: primary (trend/trigger) and confirming (momentum/flow) signals.

Each signal is a pure function of a candle's ``Features`` that works on one candle
(Python floats) and on a whole history (numpy arrays) alike: only comparisons and ``&``.
NaN (not warmed up) compares False, so a signal never fires before its indicators exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from optiflow.domain.market import Features


@dataclass(frozen=True, slots=True)
class SignalParams:
    """Thresholds the signals compare against."""

    rsi_low: float = 50.0
    rsi_high: float = 70.0
    volume_spike_mult: float = 1.5
    ob_imbalance_min: float = 0.6


SignalFn = Callable[[Features, SignalParams, Any], Any]


def ema_trend(f: Features, p: SignalParams, ob: Any) -> Any:
    """Fast EMA above slow EMA."""
    return f.ema_fast > f.ema_slow


def ema_cross(f: Features, p: SignalParams, ob: Any) -> Any:
    """Fast EMA crossed above slow EMA on this candle."""
    return (f.ema_fast > f.ema_slow) & (f.ema_fast_prev <= f.ema_slow_prev)


def breakout(f: Features, p: SignalParams, ob: Any) -> Any:
    """Close above the highest high of the previous N candles."""
    return f.close > f.highest_high


def vwap_reclaim(f: Features, p: SignalParams, ob: Any) -> Any:
    """Close back above VWAP after the previous close was at or below it."""
    return (f.close > f.vwap) & (f.prev_close <= f.vwap_prev)


def rsi_band(f: Features, p: SignalParams, ob: Any) -> Any:
    """RSI inside [rsi_low, rsi_high]."""
    return (f.rsi >= p.rsi_low) & (f.rsi <= p.rsi_high)


def macd_rising(f: Features, p: SignalParams, ob: Any) -> Any:
    """MACD histogram positive and rising."""
    return (f.macd_hist > 0.0) & (f.macd_hist > f.macd_hist_prev)


def volume_spike(f: Features, p: SignalParams, ob: Any) -> Any:
    """Candle volume at least ``volume_spike_mult`` x the rolling median volume."""
    return f.volume >= p.volume_spike_mult * f.vol_median


def ob_imbalance(f: Features, p: SignalParams, ob: Any) -> Any:
    """Bid share of top-of-book depth at least ``ob_imbalance_min`` (NaN without a book)."""
    return ob >= p.ob_imbalance_min


PRIMARY: dict[str, SignalFn] = {
    "ema_trend": ema_trend,
    "ema_cross": ema_cross,
    "breakout": breakout,
    "vwap_reclaim": vwap_reclaim,
}
CONFIRMING: dict[str, SignalFn] = {
    "rsi_band": rsi_band,
    "macd_rising": macd_rising,
    "volume_spike": volume_spike,
    "ob_imbalance": ob_imbalance,
}


def signal_values(f: Features) -> tuple[tuple[str, float], ...]:
    """The indicator values a near-miss record keeps (scalar features only)."""
    return (
        ("close", float(f.close)),
        ("ema_fast", float(f.ema_fast)),
        ("ema_slow", float(f.ema_slow)),
        ("rsi", float(f.rsi)),
        ("macd_hist", float(f.macd_hist)),
        ("volume", float(f.volume)),
        ("vol_median", float(f.vol_median)),
        ("atr", float(f.atr)),
        ("atr_median", float(f.atr_median)),
        ("highest_high", float(f.highest_high)),
        ("vwap", float(f.vwap)),
    )
