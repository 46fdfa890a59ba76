"""Shared number and verdict formatting for the console and HTML reports."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from optiflow.app.summary import TargetCheck

DASH = "—"
PNL_NOTE = "net of fees & slippage"
_VERDICTS = {"below": "below target", "within": "within target", "above": "above target"}


def num(value: Decimal | None, places: int = 2) -> str:
    """Format a Decimal with thousands separators, or a dash for None."""
    if value is None:
        return DASH
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if rounded.is_zero():
        rounded = rounded.copy_abs()
    return f"{rounded:,.{places}f}"


def money(value: Decimal | None, places: int = 2, signed: bool = True) -> str:
    """Format an amount of quote currency as "+$1,234.56" / "-$3.10" (dash for None)."""
    if value is None:
        return DASH
    text = num(abs(value), places)
    if not signed:
        return f"-${text}" if value < 0 and text.strip("0.,") else f"${text}"
    sign = "-" if value < 0 and text.strip("0.,") else "+"
    return f"{sign}${text}"


def pct(value: Decimal | None, places: int = 1) -> str:
    """Format a percentage as "55.0 %" (dash for None)."""
    return DASH if value is None else f"{num(value, places)} %"


def target_range(target: TargetCheck | None) -> str:
    """Format a target range as "15–25 $/day" (dash when there is no target)."""
    if target is None:
        return DASH
    low = num(target.daily_usd_min, 0 if target.daily_usd_min % 1 == 0 else 2)
    high = num(target.daily_usd_max, 0 if target.daily_usd_max % 1 == 0 else 2)
    return f"{low}–{high} $/day"


def verdict(target: TargetCheck | None) -> str:
    """Return "below target" / "within target" / "above target" / "no target"."""
    return "no target" if target is None else _VERDICTS.get(target.status, target.status)


def verdict_style(target: TargetCheck | None) -> str:
    """Return a colour name for a verdict (red below, green within/above, dim without)."""
    if target is None:
        return "dim"
    return "red" if target.status == "below" else "green"
