"""Account filters: capacity (slots and one position per symbol), balance, order notional."""

from __future__ import annotations

from decimal import Decimal


def capacity_blocks(open_count: int, max_positions: int, symbol_busy: bool) -> bool:
    """No free slot, or this symbol already has a position."""
    return symbol_busy or open_count >= max_positions


def balance_blocks(free_quote: Decimal, min_order_usdt: Decimal) -> bool:
    """Not enough free quote balance for the smallest allowed order."""
    return free_quote < min_order_usdt


def notional_blocks(
    qty: Decimal, price: Decimal, min_notional: Decimal, min_amount: Decimal
) -> bool:
    """The rounded order is below the notional floor or the exchange's minimum amount."""
    return qty <= 0 or qty < min_amount or qty * price < min_notional
