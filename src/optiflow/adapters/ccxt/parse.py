"""Translate ccxt payloads (dicts) into our types; nothing else in the code base reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, cast

from optiflow.domain.market import BookTop, Candle, MarketLimits
from optiflow.ports.exchange import OrderState, OrderUpdate, TradeFill

TICK_SIZE = 4  # ccxt.base.decimal_to_precision.TICK_SIZE
_TIMEFRAME_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def dec(x: Any, default: Decimal | None = Decimal(0)) -> Decimal | None:
    """A Decimal from a ccxt number or string (floats via ``str``); ``default`` for None."""
    if x is None or x == "":
        return default
    return Decimal(str(x))


def _d(x: Any) -> Decimal:
    out = dec(x)
    assert out is not None
    return out


def timeframe_ms(timeframe: str) -> int:
    """``'1m'`` -> 60000."""
    return int(timeframe[:-1]) * _TIMEFRAME_MS[timeframe[-1]]


def to_side(side: Any) -> Literal["buy", "sell"]:
    """ccxt side string -> our literal."""
    if side not in ("buy", "sell"):
        raise ValueError(f"unknown side {side!r}")
    return cast(Literal["buy", "sell"], side)


def fee_to_quote(
    fees: Sequence[Mapping[str, Any]], base: str, quote: str, price: Decimal | None
) -> Decimal:
    """Sum of fees in the quote currency; base-currency fees are converted at ``price``.

    Fees in a third currency (e.g. BNB) cannot be converted here and count as 0.
    """
    total = Decimal(0)
    for fee in fees:
        cost = _d(fee.get("cost"))
        cur = fee.get("currency")
        if cur == quote:
            total += cost
        elif cur == base and price:
            total += cost * price
    return total


def _order_fees(o: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    fees = o.get("fees") or []
    if not fees and o.get("fee"):
        fees = [o["fee"]]
    return [f for f in fees if f and f.get("cost") is not None]


def order_state(status: Any, filled: Decimal) -> OrderState:
    """ccxt unified status + filled amount -> our state (open with fills is ``partial``)."""
    if status in ("open", "canceling", None):
        return "partial" if filled > 0 else "open"
    mapping: dict[str, OrderState] = {
        "closed": "filled",
        "canceled": "cancelled",
        "rejected": "rejected",
        "expired": "expired",
    }
    return mapping.get(str(status), "open")


def parse_order(
    o: Mapping[str, Any],
    *,
    symbol: str,
    base: str,
    quote: str,
    extra_fees: Sequence[Mapping[str, Any]] = (),
) -> OrderUpdate:
    """A ccxt order -> OrderUpdate; ``extra_fees`` from the order's trades when it has none."""
    info = o.get("info") or {}
    filled = _d(o.get("filled"))
    qty = _d(o.get("amount"))
    avg = dec(o.get("average"), None)
    if avg is None and filled > 0 and o.get("cost"):
        avg = _d(o["cost"]) / filled
    fees = _order_fees(o) or list(extra_fees)
    raw_type = info.get("type") or info.get("orderType") or o.get("type") or ""
    return OrderUpdate(
        client_id=str(o.get("clientOrderId") or ""),
        exchange_id=str(o.get("id") or ""),
        symbol=symbol,
        side=to_side(o.get("side")),
        type=str(raw_type).lower(),
        state=order_state(o.get("status"), filled),
        qty=qty,
        filled=filled,
        avg_price=avg if avg else None,
        fee_quote=fee_to_quote(fees, base, quote, avg),
        ts=int(o.get("lastUpdateTimestamp") or o.get("timestamp") or 0),
        fee_base=sum((_d(f.get("cost")) for f in fees if f.get("currency") == base), Decimal(0)),
    )


def parse_trade(
    t: Mapping[str, Any], *, symbol: str, base: str, quote: str, client_id: str | None = None
) -> TradeFill:
    """A ccxt trade (from fetch_my_trades) -> TradeFill."""
    price = _d(t.get("price"))
    fees = [t["fee"]] if t.get("fee") and t["fee"].get("cost") is not None else []
    return TradeFill(
        trade_id=str(t.get("id")),
        client_id=client_id,
        exchange_order_id=str(t.get("order") or ""),
        symbol=symbol,
        side=to_side(t.get("side")),
        qty=_d(t.get("amount")),
        price=price,
        fee_quote=fee_to_quote(fees, base, quote, price),
        ts=int(t.get("timestamp") or 0),
    )


def parse_book(ob: Mapping[str, Any], *, now_ms: int) -> BookTop:
    """Best bid/ask of a ccxt order book (or ticker with bid/ask); ``now_ms`` if untimed."""
    imbalance = float("nan")
    if "bids" in ob:
        bid, ask = ob["bids"][0][0], ob["asks"][0][0]
        bid_qty = sum(float(level[1]) for level in ob["bids"][:5])
        ask_qty = sum(float(level[1]) for level in ob["asks"][:5])
        if bid_qty + ask_qty > 0:
            imbalance = bid_qty / (bid_qty + ask_qty)
    else:
        bid, ask = ob["bid"], ob["ask"]
    return BookTop(
        ts=int(ob.get("timestamp") or now_ms), bid=float(bid), ask=float(ask), imbalance=imbalance
    )


def parse_candles(rows: Sequence[Sequence[Any]], *, timeframe: str, now_ms: int) -> list[Candle]:
    """ccxt OHLCV rows -> closed candles, oldest first (a candle still forming is dropped)."""
    span = timeframe_ms(timeframe)
    out = [
        Candle(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5] or 0.0))
        for r in rows
        if int(r[0]) + span <= now_ms
    ]
    out.sort(key=lambda c: c.ts)
    return out


def _precision_step(value: Any, precision_mode: int) -> Decimal:
    if value is None:
        return Decimal(0)
    if precision_mode == TICK_SIZE:
        return _d(value)
    return Decimal(1).scaleb(-int(value))  # DECIMAL_PLACES / SIGNIFICANT_DIGITS: digits


def parse_market_limits(market: Mapping[str, Any], precision_mode: int = TICK_SIZE) -> MarketLimits:
    """A ccxt market -> MarketLimits (precision values are steps in TICK_SIZE mode)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    return MarketLimits(
        price_tick=_precision_step(precision.get("price"), precision_mode),
        amount_step=_precision_step(precision.get("amount"), precision_mode),
        min_amount=_d((limits.get("amount") or {}).get("min")),
        min_notional=_d((limits.get("cost") or {}).get("min")),
    )
