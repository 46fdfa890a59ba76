"""Exchange precision and limits per pair: config override, shipped Binance table, fallback."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING

from optiflow.domain.market import MarketLimits

if TYPE_CHECKING:
    from collections.abc import Mapping

    from optiflow.config.models import BotConfig

TABLE_FILE = "binance_spot_markets.json"

#: Used for a pair that is neither overridden in the config nor in the shipped table:
#: the finest precision ccxt reports for Binance (1e-8) and Binance's usual $5 minimum
#: notional, so nothing is rounded away; live/paper should take the real values from ccxt.
GENERIC_LIMITS = MarketLimits(
    price_tick=Decimal("0.00000001"),
    amount_step=Decimal("0.00000001"),
    min_amount=Decimal(0),
    min_notional=Decimal(5),
)


@cache
def shipped_markets() -> Mapping[str, MarketLimits]:
    """The shipped Binance spot table, keyed by 'BASE/QUOTE' (read once, read-only)."""
    text = resources.files("optiflow.config").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    raw = json.loads(text)["markets"]
    return MappingProxyType(
        {
            symbol: MarketLimits(
                price_tick=Decimal(row["price_tick"]),
                amount_step=Decimal(row["amount_step"]),
                min_amount=Decimal(row["min_amount"]),
                min_notional=Decimal(row["min_notional"]),
            )
            for symbol, row in raw.items()
        }
    )


def market_limits(cfg: BotConfig, symbol: str) -> MarketLimits:
    """Limits for a symbol: cfg.markets override, else the shipped table, else GENERIC_LIMITS."""
    override = cfg.markets.get(symbol)
    if override is not None:
        return MarketLimits(
            price_tick=override.price_tick,
            amount_step=override.amount_step,
            min_amount=override.min_amount,
            min_notional=override.min_notional,
        )
    return shipped_markets().get(symbol, GENERIC_LIMITS)
