"""The text of an entry notification: size, notional, exit ladder and the signals that fired."""

from __future__ import annotations

from decimal import Decimal

from optiflow.portfolio.position import Levels
from optiflow.signals.oneplusone import split_combo


def entry_text(symbol: str, qty: Decimal, price: Decimal, levels: Levels, signals: str) -> str:
    """``BUY SYM qty @ price = notional USDT (TP1, TP2, SL, steps; signals)``."""
    tp1 = "-" if levels.tp1 is None else f"{levels.tp1:.8g}"
    steps = ", ".join(f"{s:.8g}" for s in levels.steps) or "none"
    prim, conf = split_combo(signals)
    fired = (
        f"primary {', '.join(prim) or '-'}; confirming {', '.join(conf) or '-'}"
        if signals
        else "signals unknown"
    )
    return (
        f"BUY {symbol} {qty} @ {price} = {qty * price:.2f} USDT (TP1 {tp1}, "
        f"TP2 {levels.tp2:.8g}, SL {levels.sl:.8g}; steps {steps}; {fired})"
    )
