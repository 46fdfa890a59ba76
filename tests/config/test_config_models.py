"""Model defaults match the brief, models are frozen, and market limits resolve in order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from pydantic import ValidationError

from optiflow.config.markets import GENERIC_LIMITS, market_limits, shipped_markets
from optiflow.config.models import BotConfig
from optiflow.domain.market import MarketLimits

Make = Callable[..., BotConfig]


def test_defaults(make_config: Make) -> None:
    """A minimal config gets the SPEC defaults."""
    cfg = make_config()
    assert (cfg.mode, cfg.timeframe, cfg.interval_s, cfg.max_positions) == ("paper", "1m", 20, 2)
    assert cfg.capital.stake_usdt == Decimal(150) and cfg.capital.stake_fraction is None
    assert cfg.exits.stepwise.levels_usdt == tuple(Decimal(x) for x in ("0.1", "0.2", "0.3", "0.4"))
    assert sum(cfg.exits.stepwise.shares) == Decimal(1)
    assert cfg.filters.rate.max_entries_per_hour == 6
    assert cfg.exchange.id == "binance" and cfg.targets is None and cfg.markets == {}


def test_models_are_frozen(make_config: Make) -> None:
    """Assigning to a config field raises."""
    cfg = make_config()
    with pytest.raises(ValidationError):
        cfg.interval_s = 5  # type: ignore[misc]


def test_stake_fraction_alone_drops_default_stake(make_config: Make) -> None:
    """Giving only stake_fraction switches the default fixed stake off."""
    cfg = make_config({"capital": {"stake_fraction": 0.5}})
    assert cfg.capital.stake_usdt is None and cfg.capital.stake_fraction == 0.5


def test_decimals_are_exact(make_config: Make) -> None:
    """JSON numbers for money fields become exact Decimals."""
    cfg = make_config({"filters": {"notional": {"min_usdt": 50.1}}})
    assert cfg.filters.notional.min_usdt == Decimal("50.1")


def test_shipped_table_values() -> None:
    """The shipped Binance table has the documented precision for every listed pair."""
    table = shipped_markets()
    assert table["BTC/USDT"] == MarketLimits(
        Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal(5)
    )
    assert table["DOGE/USDT"].amount_step == Decimal(1)
    assert table["POL/USDT"] == table["MATIC/USDT"]
    expected = {"BTC", "ETH", "ADA", "SOL", "DOGE", "LTC", "XRP", "AVAX", "MATIC", "POL"}
    assert {s.split("/")[0] for s in table} == expected


def test_market_limits_resolution_order(make_config: Make) -> None:
    """Config override beats the table; unknown pairs get the generic fallback."""
    cfg = make_config(
        {
            "pairs": ["BTC/USDT", "ETH/USDT", "NEW/USDT"],
            "markets": {"ETH/USDT": {"price_tick": 0.1, "amount_step": 0.01}},
        }
    )
    assert market_limits(cfg, "BTC/USDT").amount_step == Decimal("0.00001")
    assert market_limits(cfg, "ETH/USDT") == MarketLimits(
        Decimal("0.1"), Decimal("0.01"), Decimal(0), Decimal(0)
    )
    assert market_limits(cfg, "NEW/USDT") == GENERIC_LIMITS
    assert GENERIC_LIMITS.min_notional == Decimal(5)


def test_tp2_defaults_to_twice_tp1(make_config: Make) -> None:
    """Without exits.tp2_pct, TP2 = 2 x TP1 (SPEC §6); tp1_pct 0.7 alone is accepted."""
    assert make_config({"exits": {"tp1_pct": 0.7}}).exits.tp2_pct == pytest.approx(1.4)
    assert make_config({"exits": {"tp1_pct": 0.25}}).exits.tp2_pct == pytest.approx(0.5)
    assert make_config().exits.tp2_pct == pytest.approx(0.6)  # default TP1 0.3


def test_tp2_given_wins_and_tp2_only_keeps_its_default(make_config: Make) -> None:
    """An explicit tp2_pct is kept; with tp1_pct null (TP2-only) TP2 defaults to 0.6."""
    assert make_config({"exits": {"tp1_pct": 0.2, "tp2_pct": 0.3}}).exits.tp2_pct == 0.3
    swing = make_config({"exits": {"tp1_pct": None}}).exits
    assert swing.tp1_pct is None and swing.tp2_pct == 0.6
    assert make_config({"exits": {"tp1_pct": None, "tp2_pct": 1.5}}).exits.tp2_pct == 1.5
