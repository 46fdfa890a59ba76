"""State of the fake Binance: markets, book, candles, balances, positions, orders and fills."""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

D0 = Decimal(0)


class BinanceReject(Exception):
    """A Binance error body: HTTP status, code and message."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Market:
    """One symbol as the fake lists it (same symbol on spot and futures)."""

    id: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal


@dataclass
class Order:
    """One order of the fake's book (spot, futures or futures algo)."""

    kind: str  # "spot" | "futures"
    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | STOP_LOSS_LIMIT | STOP_MARKET
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    reduce_only: bool
    time: int
    algo: bool = False
    status: str = "NEW"
    executed: Decimal = D0
    cum_quote: Decimal = D0
    update_time: int = 0
    triggered: bool = False
    fills: list[dict[str, Any]] = field(default_factory=list)


def load_candles(path: Path) -> list[list[float]]:
    """Rows ``[ts_ms, open, high, low, close, volume]`` of a repo data file (.csv or .csv.gz)."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    lines = text.splitlines()[1:]
    return [[float(x) for x in line.split(",")] for line in lines if line]


class Ledger:
    """Everything the fake knows; every method is thread-safe (tests poke it from outside)."""

    def __init__(self, *, fee_spot: str = "0.001", fee_futures: str = "0.0004") -> None:
        self.lock = threading.RLock()
        self.markets: dict[str, Market] = {}
        self.book: dict[str, tuple[Decimal, Decimal]] = {}
        self.candles: dict[str, list[list[float]]] = {}
        self.spot: dict[str, list[Decimal]] = {}  # asset -> [free, locked]
        self.wallet: dict[str, Decimal] = {"USDT": D0}  # futures wallet
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, entry)
        self.leverage = Decimal(10)
        self.orders: list[Order] = []
        self.trades: list[dict[str, Any]] = []
        self.fee = {"spot": Decimal(fee_spot), "futures": Decimal(fee_futures)}
        self.partial_fraction: Decimal | None = None  # next limit fill only takes this share
        # the next MARKET order fills only this share at once, the rest on the next book move
        self.partial_market: Decimal | None = None
        self.fixed_now_ms: int | None = None
        self._next_id = 1000

    # ---- setup -----------------------------------------------------------------------
    def now_ms(self) -> int:
        """The fake's clock: wall clock unless a test fixed it."""
        return self.fixed_now_ms if self.fixed_now_ms is not None else int(time.time() * 1000)

    def add_market(
        self,
        base: str,
        quote: str,
        *,
        tick: str,
        step: str,
        min_qty: str = "0",
        min_notional: str = "5",
    ) -> None:
        """List ``base/quote`` on spot and futures."""
        with self.lock:
            m = Market(
                base + quote,
                base,
                quote,
                Decimal(tick),
                Decimal(step),
                Decimal(min_qty),
                Decimal(min_notional),
            )
            self.markets[m.id] = m

    def set_balance(self, asset: str, free: str | Decimal) -> None:
        """Set the spot free balance of an asset."""
        with self.lock:
            self.spot[asset] = [Decimal(free), self.spot.get(asset, [D0, D0])[1]]

    def set_book(self, symbol_id: str, bid: str | float, ask: str | float) -> None:
        """Move the best bid/ask; resting limit and stop orders fill when crossed."""
        with self.lock:
            self.book[symbol_id] = (Decimal(str(bid)), Decimal(str(ask)))
            for o in [o for o in self.orders if o.symbol == symbol_id]:
                if o.status in ("NEW", "PARTIALLY_FILLED"):
                    self._match(o)

    def set_candles(self, symbol_id: str, rows: list[list[float]]) -> None:
        """Candles served by klines; the book is set around the last close."""
        with self.lock:
            self.candles[symbol_id] = rows
            if rows and symbol_id not in self.book:
                close = Decimal(str(rows[-1][4]))
                self.book[symbol_id] = (close, close + self.markets[symbol_id].tick)

    # ---- orders ----------------------------------------------------------------------
    def find(
        self,
        kind: str,
        symbol: str,
        *,
        order_id: str | None = None,
        client_id: str | None = None,
        algo: bool = False,
    ) -> Order:
        """The order by id or client id, or -2013."""
        with self.lock:
            for o in self.orders:
                if (
                    o.kind == kind
                    and o.symbol == symbol
                    and o.algo == algo
                    and (
                        (order_id is not None and str(o.order_id) == order_id)
                        or (client_id is not None and o.client_id == client_id)
                    )
                ):
                    return o
        raise BinanceReject(-2013, "Order does not exist.")

    def place(self, kind: str, p: dict[str, str], *, algo: bool = False) -> Order:
        """Validate and accept a new order, filling what crosses at once."""
        with self.lock:
            m = self.markets.get(p.get("symbol", ""))
            if m is None:
                raise BinanceReject(-1121, "Invalid symbol.")
            cid = p.get("clientAlgoId" if algo else "newClientOrderId") or f"fake{self._next_id}"
            if any(o.client_id == cid and o.kind == kind for o in self.orders):
                raise BinanceReject(
                    -2010 if kind == "spot" else -4116,
                    "Duplicate order sent." if kind == "spot" else "ClientOrderId is duplicated.",
                )
            qty = Decimal(p.get("quantity", "0"))
            typ = p.get("type") or p.get("orderType") or ""
            price = Decimal(p.get("price", "0"))
            stop = Decimal(p.get("stopPrice") or p.get("triggerPrice") or "0")
            if qty <= 0 or qty % m.step != 0 or qty < m.min_qty:
                raise BinanceReject(-1013, "Filter failure: LOT_SIZE")
            if price and price % m.tick != 0:
                raise BinanceReject(-1013, "Filter failure: PRICE_FILTER")
            bid, ask = self.book[m.id]
            ref = price or (ask if p["side"] == "BUY" else bid)
            reduce_only = p.get("reduceOnly", "false").lower() == "true"
            if qty * ref < m.min_notional and not reduce_only:
                raise BinanceReject(
                    -1013 if kind == "spot" else -4164,
                    "Filter failure: NOTIONAL"
                    if kind == "spot"
                    else f"Order's notional must be no smaller than {m.min_notional}",
                )
            self._next_id += 1
            o = Order(
                kind,
                self._next_id,
                cid,
                m.id,
                p["side"],
                typ,
                qty,
                price,
                stop,
                reduce_only,
                self.now_ms(),
                algo=algo,
            )
            o.update_time = o.time
            self._reserve(o, m, ref)
            self.orders.append(o)
            self._match(o, taker=True)
            return o

    def cancel(self, o: Order) -> Order:
        """Cancel an open order, releasing what it locked, or -2011."""
        with self.lock:
            if o.status not in ("NEW", "PARTIALLY_FILLED"):
                raise BinanceReject(-2011, "Unknown order sent.")
            o.status = "CANCELED"
            o.update_time = self.now_ms()
            self._release(o)
            return o

    def _reserve(self, o: Order, m: Market, ref: Decimal) -> None:
        if o.kind == "futures":
            pos = self.positions.get(m.id, (D0, D0))[0]
            signed = o.qty if o.side == "BUY" else -o.qty
            if o.reduce_only and (pos == 0 or (pos > 0) == (signed > 0) or abs(signed) > abs(pos)):
                raise BinanceReject(-2022, "ReduceOnly Order is rejected.")
            used = sum((abs(q) * e for q, e in self.positions.values()), D0) / self.leverage
            if not o.reduce_only and o.qty * ref / self.leverage > self.wallet["USDT"] - used:
                raise BinanceReject(-2019, "Margin is insufficient.")
            return
        asset, amount = (m.quote, o.qty * ref) if o.side == "BUY" else (m.base, o.qty)
        acct = self.spot.setdefault(asset, [D0, D0])
        if acct[0] < amount:
            raise BinanceReject(-2010, "Account has insufficient balance for requested action.")
        acct[0] -= amount
        acct[1] += amount

    def _release(self, o: Order) -> None:
        if o.kind == "futures":
            return
        m = self.markets[o.symbol]
        left = o.qty - o.executed
        asset, amount = (m.quote, left * self._ref(o)) if o.side == "BUY" else (m.base, left)
        acct = self.spot[asset]
        acct[0] += amount
        acct[1] -= amount

    def _ref(self, o: Order) -> Decimal:
        return o.price if o.price else Decimal(o.fills[0]["price"]) if o.fills else D0

    def _match(self, o: Order, taker: bool = False) -> None:
        bid, ask = self.book[o.symbol]
        buy = o.side == "BUY"
        if o.type in ("STOP_LOSS_LIMIT", "STOP_MARKET") and not o.triggered:
            if not ((ask >= o.stop_price) if buy else (bid <= o.stop_price)):
                return
            o.triggered = True
        if o.type in ("MARKET", "STOP_MARKET"):
            left = o.qty - o.executed
            if taker and o.type == "MARKET" and self.partial_market is not None:
                step = self.markets[o.symbol].step
                left = (left * self.partial_market / step).to_integral_value(ROUND_DOWN) * step
                self.partial_market = None
            self._fill(o, left, ask if buy else bid, maker=False)
        elif (buy and ask <= o.price) or (not buy and bid >= o.price):
            left = o.qty - o.executed
            if self.partial_fraction is not None:
                step = self.markets[o.symbol].step
                left = (left * self.partial_fraction / step).to_integral_value(ROUND_DOWN) * step
                self.partial_fraction = None
            self._fill(o, left, (ask if buy else bid) if taker else o.price, maker=not taker)

    def _fill(self, o: Order, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        if qty <= 0:
            return
        m, now = self.markets[o.symbol], self.now_ms()
        quote = qty * price
        fee_rate = self.fee[o.kind]
        if o.kind == "spot":
            fee, fee_asset = (
                (qty * fee_rate, m.base) if o.side == "BUY" else (quote * fee_rate, m.quote)
            )
            pay, get = (m.quote, m.base) if o.side == "BUY" else (m.base, m.quote)
            locked = (
                qty * self._ref(o)
                if o.side == "BUY" and o.price
                else (quote if o.side == "BUY" else qty)
            )
            self.spot[pay][1] -= locked
            if o.side == "BUY" and o.price:
                self.spot[pay][0] += locked - quote  # price improvement back to free
            self.spot.setdefault(get, [D0, D0])[0] += (qty if o.side == "BUY" else quote) - fee
        else:
            fee, fee_asset = quote * fee_rate, "USDT"
            self._book_position(m.id, qty if o.side == "BUY" else -qty, price)
            self.wallet["USDT"] -= fee
        o.executed += qty
        o.cum_quote += quote
        o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"
        o.update_time = now
        self._next_id += 1
        trade = {
            "kind": o.kind,
            "id": self._next_id,
            "order": o,
            "price": price,
            "qty": qty,
            "quote": quote,
            "fee": fee,
            "fee_asset": fee_asset,
            "time": now,
            "maker": maker,
        }
        o.fills.append(trade)
        self.trades.append(trade)

    def _book_position(self, sym: str, dq: Decimal, price: Decimal) -> None:
        q, e = self.positions.get(sym, (D0, D0))
        if q == 0 or (q > 0) == (dq > 0):
            nq = q + dq
            self.positions[sym] = (nq, (abs(q) * e + abs(dq) * price) / abs(nq))
            return
        closed = min(abs(dq), abs(q))
        self.wallet["USDT"] += closed * (price - e) * (1 if q > 0 else -1)
        nq = q + dq
        self.positions[sym] = (nq, e if nq != 0 and (nq > 0) == (q > 0) else price)
