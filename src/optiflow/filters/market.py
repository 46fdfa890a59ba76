"""Market-condition filters (spread, volume, ATR): pure, stateless, scalar or array alike.

Each returns True where the filter BLOCKS an entry. They depend only on the candle's
features and the quoted spread, so a fast backtest can evaluate them over a whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optiflow.domain.market import Features


@dataclass(frozen=True, slots=True)
class MarketFilterParams:
    """Thresholds of the market filters; a disabled filter has ``None``."""

    spread_max_pct: float | None = 0.4
    volume_mult: float | None = 1.2
    atr_mult: float | None = 0.9


MARKET_REASONS: tuple[str, ...] = ("spread", "volume", "atr")


def _fails_at_least(value: Any, floor: Any) -> Any:
    """``not (value >= floor)`` for scalars and arrays alike (NaN on either side fails)."""
    return (value < floor) | (value != value) | (floor != floor)


def spread_blocks(spread_pct: Any, p: MarketFilterParams) -> Any:
    """Spread wider than allowed."""
    if p.spread_max_pct is None:
        return spread_pct != spread_pct  # all False (NaN-safe shape-preserving)
    return (spread_pct > p.spread_max_pct) | (spread_pct != spread_pct)


def volume_blocks(f: Features, p: MarketFilterParams) -> Any:
    """Candle volume below ``mult`` x rolling median volume (or median unknown)."""
    if p.volume_mult is None:
        return f.volume != f.volume
    return _fails_at_least(f.volume, p.volume_mult * f.vol_median)


def atr_blocks(f: Features, p: MarketFilterParams) -> Any:
    """ATR below ``mult`` x its rolling median (or not warmed up)."""
    if p.atr_mult is None:
        return f.atr != f.atr
    return _fails_at_least(f.atr, p.atr_mult * f.atr_median)


def market_blocks(f: Features, spread_pct: Any, p: MarketFilterParams) -> tuple[Any, Any, Any]:
    """(spread, volume, atr) blocking flags in ``MARKET_REASONS`` order."""
    return spread_blocks(spread_pct, p), volume_blocks(f, p), atr_blocks(f, p)
