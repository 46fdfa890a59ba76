"""Position sizing: fixed stake or fraction of equity, capped by free balance, rounded."""

from __future__ import annotations

from decimal import Decimal

from optiflow.portfolio.position import round_step


def order_qty(
    *,
    stake_usdt: Decimal | None,
    stake_fraction: float | None,
    equity: Decimal,
    free_quote: Decimal,
    price: Decimal,
    cost_rate: Decimal,
    amount_step: Decimal,
) -> Decimal:
    """Quantity to buy at ``price``: the stake capped by what free balance pays (with fees)."""
    if price <= 0:
        return Decimal(0)
    stake = stake_usdt if stake_usdt is not None else equity * Decimal(str(stake_fraction))
    affordable = free_quote / (1 + cost_rate)
    return round_step(min(stake, affordable) / price, amount_step)
