"""CcxtGateway: the ExchangeGateway port on top of an async ccxt exchange."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

import ccxt  # type: ignore[import-untyped]

from optiflow.adapters.ccxt.errors import map_ccxt_error
from optiflow.adapters.ccxt.factory import ExchangeSpec, MarketKind, build_exchange
from optiflow.adapters.ccxt.parse import parse_book, parse_candles, parse_market_limits
from optiflow.adapters.ccxt.parse import parse_order as _parse_order
from optiflow.adapters.ccxt.parse import parse_trade as _parse_trade
from optiflow.adapters.ccxt.ratelimit import WeightBudget
from optiflow.adapters.ccxt.retry import RetryPolicy, retry_call
from optiflow.domain.errors import RetryableError, SkipError
from optiflow.domain.market import BookTop, Candle, MarketLimits
from optiflow.ports.clock import Clock
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill

T = TypeVar("T")
log = logging.getLogger(__name__)
# Approximate Binance request weights; only their ratio to the budget matters.
WEIGHTS = {
    "markets": 20,
    "book": 5,
    "candles": 2,
    "submit": 1,
    "order": 4,
    "cancel": 1,
    "open": 6,
    "balance": 20,
    "trades": 20,
}


class CcxtGateway:
    """Orders, balances and market data of one account through ccxt, in our types.

    Reads and cancels retry through ``retry``; a submit never does: when its outcome is
    unknown it raises RetryableError and the caller resolves it with ``fetch_order``.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        market: MarketKind = "spot",
        retry: RetryPolicy | None = None,
        budget: WeightBudget | None = None,
        clock: Clock | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.exchange = exchange
        self.market = market
        self.retry = retry or RetryPolicy()
        self.budget = budget
        self._clock = clock
        self._secrets = [s for s in secrets if s]
        self._assets: dict[str, tuple[str, str]] = {}  # our symbol -> (base, quote)
        self._algo: set[str] = set()  # client ids of futures conditional (algo) orders
        self._client_by_order: dict[str, str] = {}

    @classmethod
    def from_spec(
        cls, spec: ExchangeSpec, shared: dict[Any, Any] | None = None, **kwargs: Any
    ) -> CcxtGateway:
        """Build the exchange from ``spec`` and wrap it (`shared`: one exchange per account)."""
        if shared is None:
            exchange = build_exchange(spec)
        else:  # the bots of a fleet host: one client, one HTTP session, markets loaded once
            key = (spec.exchange_id, spec.market, spec.api_base_url, spec.api_key)
            exchange = shared.get(key) or shared.setdefault(key, build_exchange(spec))
        return cls(
            exchange,
            market=spec.market,
            secrets=(spec.api_key or "", spec.secret or ""),
            **kwargs,
        )

    # ---- plumbing ----------------------------------------------------------------------
    def _now_ms(self) -> int:
        return self._clock.now_ms() if self._clock else int(self.exchange.milliseconds())

    def _ccxt_symbol(self, symbol: str) -> str:
        if self.market == "futures" and ":" not in symbol:
            return f"{symbol}:{symbol.split('/')[1]}"
        return symbol

    def _pair(self, symbol: str) -> tuple[str, str]:
        if symbol not in self._assets:
            base, quote = symbol.split("/")
            self._assets[symbol] = (base, quote.split(":")[0])
        return self._assets[symbol]

    async def _once(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        if self.budget is not None:
            await self.budget.acquire(WEIGHTS.get(what, 1))
        try:
            return await fn()
        except ccxt.BaseError as exc:
            headers = getattr(self.exchange, "last_response_headers", None)
            raise map_ccxt_error(exc, secrets=self._secrets, headers=headers) from None

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await retry_call(lambda: self._once(what, fn), self.retry, what=what)

    def _order(
        self, raw: dict[str, Any], symbol: str, fees: list[dict[str, Any]] | None = None
    ) -> OrderUpdate:
        base, quote = self._pair(symbol)
        up = _parse_order(raw, symbol=symbol, base=base, quote=quote, extra_fees=fees or ())
        if raw.get("info", {}).get("algoId") is not None and up.state == "filled":
            # a triggered conditional order reports no fills of its own
            up = OrderUpdate(**{**_asdict(up), "filled": up.qty})
        if up.exchange_id and up.client_id:
            self._client_by_order[up.exchange_id] = up.client_id
        return up

    async def _order_fees(self, raw: dict[str, Any], symbol: str) -> list[dict[str, Any]]:
        """Fees of a filled order from its trades when the order payload has none."""
        if raw.get("fees") or raw.get("fee") or not raw.get("filled"):
            return []
        if raw.get("info", {}).get("algoId") is not None:
            return []
        trades = await self._call(
            "trades",
            lambda: self.exchange.fetch_my_trades(
                self._ccxt_symbol(symbol), None, None, {"orderId": raw["id"]}
            ),
        )
        return [t["fee"] for t in trades if t.get("fee")]

    # ---- the port ----------------------------------------------------------------------
    async def load_markets(self) -> dict[str, MarketLimits]:
        """Precision and limits of every market of our kind (spot or linear futures)."""
        markets = await self._call("markets", lambda: self.exchange.load_markets())
        mode = int(self.exchange.precisionMode)
        out: dict[str, MarketLimits] = {}
        for m in markets.values():
            if m.get("spot") if self.market == "spot" else m.get("linear") and m.get("swap"):
                ours = f"{m['base']}/{m['quote']}"
                self._assets[ours] = (m["base"], m["quote"])
                out[ours] = parse_market_limits(m, mode)
        return out

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """Best bid and ask now (order book, depth 5)."""
        ob = await self._call(
            "book", lambda: self.exchange.fetch_order_book(self._ccxt_symbol(symbol), 5)
        )
        return parse_book(ob, now_ms=self._now_ms())

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Closed candles only, oldest first (asks one extra row for the forming candle)."""
        rows = await self._call(
            "candles",
            lambda: self.exchange.fetch_ohlcv(
                self._ccxt_symbol(symbol), timeframe, since_ms, limit + 1
            ),
        )
        candles = parse_candles(rows, timeframe=timeframe, now_ms=self._now_ms())
        return candles[:limit] if since_ms is not None else candles[-limit:]

    def _order_args(self, o: OrderRequest) -> tuple[str, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": o.client_id}
        if o.reduce_only and self.market == "futures":
            params["reduceOnly"] = True
        price = float(o.price) if o.price is not None else None
        if o.type == "market":
            return "market", None, params
        if o.type == "limit":
            return "limit", price, params
        if o.stop_price is None:
            raise SkipError(f"{o.type} order {o.client_id} needs a stop_price")
        params["triggerPrice"] = float(o.stop_price)
        if o.type == "stop_loss_limit":
            return "limit", price, params
        if self.market != "futures":
            raise SkipError("stop_market orders are for futures; use stop_loss_limit on spot")
        params["reduceOnly"] = True
        self._algo.add(o.client_id)
        return "market", None, params

    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Place an order once; RetryableError when its outcome is unknown (never resubmits)."""
        typ, price, params = self._order_args(order)
        sym = self._ccxt_symbol(order.symbol)
        try:
            raw = await self._once(
                "submit",
                lambda: self.exchange.create_order(
                    sym, typ, order.side, float(order.qty), price, params
                ),
            )
        except SkipError as exc:
            if getattr(exc, "reason", "") != "duplicate":
                raise
            existing = await self.fetch_order(order.symbol, order.client_id)
            if existing is None:
                raise
            log.warning("duplicate client id %s: returning the existing order", order.client_id)
            return existing
        except RetryableError:
            log.warning("submit %s outcome unknown; resolve with fetch_order", order.client_id)
            raise
        return self._order(raw, order.symbol, await self._order_fees(raw, order.symbol))

    async def _fetch_raw(self, symbol: str, client_id: str, algo: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"origClientOrderId": client_id}
        if algo:
            params["trigger"] = True
        raw: dict[str, Any] = await self._call(
            "order", lambda: self.exchange.fetch_order("", self._ccxt_symbol(symbol), params)
        )
        return raw

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Look an order up by client id (futures: plain orders, then conditional ones)."""
        kinds = [False]
        if self.market == "futures":
            kinds = [True, False] if client_id in self._algo else [False, True]
        for algo in kinds:
            try:
                raw = await self._fetch_raw(symbol, client_id, algo)
            except SkipError as exc:
                if getattr(exc, "reason", "") == "order_not_found":
                    continue
                raise
            return self._order(raw, symbol, await self._order_fees(raw, symbol))
        return None

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel by client id; None when it was not open (already filled or unknown)."""
        params: dict[str, Any] = {"origClientOrderId": client_id}
        if self.market == "futures" and client_id in self._algo:
            params["trigger"] = True
        try:
            raw = await self._call(
                "cancel", lambda: self.exchange.cancel_order("", self._ccxt_symbol(symbol), params)
            )
        except SkipError as exc:
            if getattr(exc, "reason", "") != "order_not_found":
                raise
            now = await self.fetch_order(symbol, client_id)  # maybe our earlier try cancelled it
            return now if now is not None and now.state == "cancelled" else None
        # Binance answers a cancel with the cancel request's own id as clientOrderId
        return replace(self._order(raw, symbol), client_id=client_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Open orders of the account (futures: plain and conditional)."""
        sym = self._ccxt_symbol(symbol) if symbol else None
        variants: list[dict[str, Any]] = [{}]
        if self.market == "futures":
            variants.append({"trigger": True})
        out: list[OrderUpdate] = []
        for params in variants:
            raws = await self._call(
                "open",
                lambda p=params: self.exchange.fetch_open_orders(  # type: ignore[misc]
                    sym, None, None, p
                ),
            )
            for raw in raws:
                if raw.get("info", {}).get("algoId") is not None and raw.get("clientOrderId"):
                    self._algo.add(raw["clientOrderId"])
                out.append(self._order(raw, raw["symbol"].split(":")[0]))
        return out

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Free balance per asset (zero balances left out)."""
        bal = await self._call("balance", lambda: self.exchange.fetch_balance())
        return {a: Decimal(str(v)) for a, v in (bal.get("free") or {}).items() if v}

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Our executions since a time, with client ids where this gateway saw the order."""
        raws = await self._call(
            "trades", lambda: self.exchange.fetch_my_trades(self._ccxt_symbol(symbol), since_ms)
        )
        base, quote = self._pair(symbol)
        return [
            _parse_trade(
                t,
                symbol=symbol,
                base=base,
                quote=quote,
                client_id=self._client_by_order.get(str(t.get("order"))),
            )
            for t in raws
        ]

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.exchange.close()


def _asdict(u: OrderUpdate) -> dict[str, Any]:
    return {k: getattr(u, k) for k in u.__dataclass_fields__}
