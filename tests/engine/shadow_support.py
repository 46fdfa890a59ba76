"""A small shadow book the shadow tests share (one pair, round numbers)."""

from __future__ import annotations

from decimal import Decimal

from optiflow.decisions.ladder import LadderParams
from optiflow.domain.market import MarketLimits
from optiflow.engine.shadows import ShadowBook

SYM = "AAA/USDT"


def book(max_hold_min: float | None = None, timeout_min: float | None = None) -> ShadowBook:
    """Fee 0.1 %, slippage 0.05 %, tick 0.01, lot 0.001; SL 1 %, TP1 0.5 % (half), TP2 1 %."""
    p = LadderParams(
        sl_pct=1.0,
        tp1_pct=0.5,
        tp2_pct=1.0,
        tp1_share=Decimal("0.5"),
        breakeven_after_tp1=True,
        step_levels_usdt=(),
        step_shares=(),
        auto_profit_pct=None,
        timeout_min=timeout_min,
        timeout_min_pnl_pct=0.0,
        max_hold_min=max_hold_min,
        fee_in=0.001,
        fee_out=0.001,
    )
    limits = {SYM: MarketLimits(Decimal("0.01"), Decimal("0.001"), Decimal(0), Decimal(0))}
    return ShadowBook(p, limits, Decimal("0.001"), Decimal("0.0005"))
