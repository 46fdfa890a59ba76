"""JSON bodies of the fake Binance, rendered from its ledger the way Binance shapes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fakes.binance_ledger import Ledger, Order


def _s(x: Decimal) -> str:
    return format(x.normalize(), "f") if x else "0"


def exchange_info(led: Ledger, kind: str) -> Any:
    """exchangeInfo of spot or futures."""
    symbols = []
    for m in led.markets.values():
        filters: list[dict[str, Any]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": _s(m.tick),
                "maxPrice": "1000000",
                "tickSize": _s(m.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": _s(m.min_qty),
                "maxQty": "9000000",
                "stepSize": _s(m.step),
            },
        ]
        s: dict[str, Any] = {
            "symbol": m.id,
            "status": "TRADING",
            "baseAsset": m.base,
            "quoteAsset": m.quote,
            "filters": filters,
        }
        if kind == "spot":
            filters.append(
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _s(m.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": "9000000",
                }
            )
            s.update(
                baseAssetPrecision=8,
                quotePrecision=8,
                isSpotTradingAllowed=True,
                isMarginTradingAllowed=False,
                permissions=["SPOT"],
                orderTypes=[
                    "LIMIT",
                    "LIMIT_MAKER",
                    "MARKET",
                    "STOP_LOSS",
                    "STOP_LOSS_LIMIT",
                    "TAKE_PROFIT",
                    "TAKE_PROFIT_LIMIT",
                ],
            )
        else:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": _s(m.min_notional)})
            s.update(
                pair=m.id,
                contractType="PERPETUAL",
                deliveryDate=4133404800000,
                onboardDate=1569398400000,
                marginAsset=m.quote,
                pricePrecision=2,
                quantityPrecision=3,
                baseAssetPrecision=8,
                quotePrecision=8,
                underlyingType="COIN",
                orderTypes=[
                    "LIMIT",
                    "MARKET",
                    "STOP",
                    "STOP_MARKET",
                    "TAKE_PROFIT",
                    "TAKE_PROFIT_MARKET",
                    "TRAILING_STOP_MARKET",
                ],
            )
        symbols.append(s)
    return {
        "timezone": "UTC",
        "serverTime": led.now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "assets": [],
        "symbols": symbols,
    }


def order_json(o: Order, full: bool = False) -> Any:
    """One order as the order endpoints answer it."""
    if o.algo:
        return {
            "algoId": o.order_id,
            "clientAlgoId": o.client_id,
            "algoType": "CONDITIONAL",
            "orderType": o.type,
            "symbol": o.symbol,
            "side": o.side,
            "positionSide": "BOTH",
            "timeInForce": "GTC",
            "quantity": _s(o.qty),
            "algoStatus": {"FILLED": "FINISHED"}.get(o.status, o.status),
            "triggerPrice": _s(o.stop_price),
            "price": _s(o.price),
            "workingType": "CONTRACT_PRICE",
            "reduceOnly": o.reduce_only,
            "closePosition": False,
            "createTime": o.time,
            "updateTime": o.update_time,
        }
    avg = o.cum_quote / o.executed if o.executed else Decimal(0)
    d: dict[str, Any] = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "clientOrderId": o.client_id,
        "price": _s(o.price),
        "origQty": _s(o.qty),
        "executedQty": _s(o.executed),
        "status": o.status,
        "timeInForce": "GTC",
        "type": o.type,
        "side": o.side,
        "stopPrice": _s(o.stop_price),
        "time": o.time,
        "updateTime": o.update_time,
    }
    if o.kind == "futures":
        d.update(
            avgPrice=_s(avg),
            cumQuote=_s(o.cum_quote),
            reduceOnly=o.reduce_only,
            closePosition=False,
            positionSide="BOTH",
            workingType="CONTRACT_PRICE",
            origType=o.type,
        )
    else:
        d.update(
            orderListId=-1,
            cummulativeQuoteQty=_s(o.cum_quote),
            isWorking=True,
            origQuoteOrderQty="0",
            workingTime=o.time,
        )
        if full:
            d["transactTime"] = o.update_time
            d["fills"] = [
                {
                    "price": _s(t["price"]),
                    "qty": _s(t["qty"]),
                    "commission": _s(t["fee"]),
                    "commissionAsset": t["fee_asset"],
                    "tradeId": t["id"],
                }
                for t in o.fills
            ]
    return d


def account_json(led: Ledger, kind: str) -> Any:
    """Spot /account or futures /account."""

    if kind == "spot":
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": led.now_ms(),
            "accountType": "SPOT",
            "permissions": ["SPOT"],
            "balances": [
                {"asset": a, "free": _s(f), "locked": _s(lk)} for a, (f, lk) in led.spot.items()
            ],
        }
    w = led.wallet["USDT"]
    used = sum((abs(q) * e for q, e in led.positions.values()), Decimal(0)) / led.leverage
    asset = {
        "asset": "USDT",
        "walletBalance": _s(w),
        "unrealizedProfit": "0",
        "marginBalance": _s(w),
        "availableBalance": _s(w - used),
        "maxWithdrawAmount": _s(w - used),
        "crossWalletBalance": _s(w),
        "updateTime": led.now_ms(),
    }
    return {
        "totalWalletBalance": _s(w),
        "availableBalance": _s(w - used),
        "assets": [asset],
        "positions": [],
    }


def positions_json(led: Ledger) -> Any:
    """Futures positionRisk."""
    return [
        {
            "symbol": s,
            "positionAmt": _s(q),
            "entryPrice": _s(e),
            "positionSide": "BOTH",
            "leverage": str(led.leverage),
            "marginType": "cross",
            "updateTime": led.now_ms(),
        }
        for s, (q, e) in led.positions.items()
        if q
    ]


def trades_json(led: Ledger, p: dict[str, str], kind: str) -> Any:
    """myTrades / userTrades filtered by symbol, orderId and startTime."""
    out = []
    for t in led.trades:
        o: Order = t["order"]
        if t["kind"] != kind or o.symbol != p.get("symbol"):
            continue
        if "orderId" in p and str(o.order_id) != p["orderId"]:
            continue
        if "startTime" in p and t["time"] < int(p["startTime"]):
            continue
        d: dict[str, Any] = {
            "symbol": o.symbol,
            "id": t["id"],
            "orderId": o.order_id,
            "price": _s(t["price"]),
            "qty": _s(t["qty"]),
            "quoteQty": _s(t["quote"]),
            "commission": _s(t["fee"]),
            "commissionAsset": t["fee_asset"],
            "time": t["time"],
            "isMaker": t["maker"],
        }
        if kind == "spot":
            d.update(orderListId=-1, isBuyer=o.side == "BUY", isBestMatch=True)
        else:
            d.update(
                side=o.side,
                buyer=o.side == "BUY",
                maker=t["maker"],
                positionSide="BOTH",
                realizedPnl="0",
                marginAsset="USDT",
            )
        out.append(d)
    return out
