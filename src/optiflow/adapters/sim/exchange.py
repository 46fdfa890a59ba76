"""The one simulated exchange (backtest, replay, paper): market and limit orders, fees,
slippage, partial fills, balances. It fills against prices it is shown; it owns no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from optiflow.domain.events import OrderFilled, OrderRejected, Side
from optiflow.domain.market import MarketLimits
from optiflow.domain.records import builder
from optiflow.portfolio.position import round_step

SimResult = OrderFilled | OrderRejected
_ZERO = Decimal(0)
_filled = builder(OrderFilled)  # OrderFilled(...), every field in order (last: False)


@dataclass(slots=True)
class RestingOrder:
    """An order waiting in the simulated book."""

    client_id: str
    symbol: str
    side: Side
    qty: Decimal
    limit: Decimal | None  # None: market order waiting for the next price
    filled: Decimal = Decimal(0)


def _to_tick(price: Decimal, tick: Decimal, up: bool) -> Decimal:
    if tick <= 0:
        return price
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return steps * tick


def crosses(side: Side, limit: Decimal, bid: float, ask: float) -> bool:
    """Whether a limit order is crossed by the quote (a buy by the ask, a sell by the bid)."""
    if side == "buy":
        return Decimal(repr(float(ask))) <= limit
    return Decimal(repr(float(bid))) >= limit


@dataclass(slots=True)
class SimExchange:
    """Balances per asset, resting orders, and a ledger of every fill."""

    fee_rate: Decimal
    slippage_rate: Decimal
    limits: Mapping[str, MarketLimits]
    balances: dict[str, Decimal]
    participation: Decimal = Decimal("0.1")  # max share of a candle's volume a limit order takes
    resting: dict[str, RestingOrder] = field(default_factory=dict)
    last_price: dict[str, float] = field(default_factory=dict)
    ledger: list[OrderFilled] = field(default_factory=list)
    seen_client_ids: set[str] = field(default_factory=set)
    quotes: dict[str, tuple[float, float]] = field(default_factory=dict)  # symbol -> (bid, ask)
    # symbol -> (base, quote) asset names, split once per symbol (every fill needs them)
    assets: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    # ---- quotes (only with tick data; without one, market orders fill at the price) ---
    def set_quote(self, symbol: str, bid: float, ask: float) -> None:
        """Best bid/ask of ``symbol``: market buys then fill at the ask, sells at the bid."""
        self.quotes[symbol] = (bid, ask)

    def clear_quote(self, symbol: str) -> None:
        """Forget ``symbol``'s quote: market orders fill at the shown price again."""
        self.quotes.pop(symbol, None)

    def _quoted(self, symbol: str, side: Side, price: float) -> float:
        """The side of the quote a market order takes, or ``price`` without a quote."""
        q = self.quotes.get(symbol)
        if q is None:
            return price
        return q[1] if side == "buy" else q[0]

    # ---- order entry -----------------------------------------------------------------
    def submit_market(self, client_id: str, symbol: str, side: Side, qty: Decimal) -> None:
        """Queue a market order; it fills at the next price shown for ``symbol``."""
        self._accept(RestingOrder(client_id, symbol, side, qty, None))

    def submit_limit(
        self, client_id: str, symbol: str, side: Side, qty: Decimal, limit: Decimal
    ) -> None:
        """Rest a limit order; it fills when a candle trades through ``limit``."""
        self._accept(RestingOrder(client_id, symbol, side, qty, limit))

    def _accept(self, order: RestingOrder) -> None:
        if order.client_id in self.seen_client_ids:
            raise ValueError(f"duplicate client order id {order.client_id}")
        self.seen_client_ids.add(order.client_id)
        self.resting[order.client_id] = order

    def cancel(self, client_id: str) -> bool:
        """Cancel a resting order; False if it is not resting (filled or unknown)."""
        return self.resting.pop(client_id, None) is not None

    def execute_now(
        self, client_id: str, symbol: str, side: Side, qty: Decimal, ref_price: float, ts: int
    ) -> SimResult:
        """Fill a market order at once at ``ref_price`` (or the last price if 0) + slippage.

        With a quote for ``symbol``, an order whose ``ref_price`` is 0 or the last price
        fills at the ask (buy) or bid (sell); any other ``ref_price`` is a trigger level
        swept through, and the order keeps filling at that level.
        """
        if client_id in self.seen_client_ids:
            raise ValueError(f"duplicate client order id {client_id}")
        self.seen_client_ids.add(client_id)
        price = ref_price if ref_price > 0 else self.last_price[symbol]
        if symbol in self.quotes and (ref_price <= 0 or ref_price == self.last_price.get(symbol)):
            price = self._quoted(symbol, side, price)
        return self._fill_at(client_id, symbol, side, qty, price, ts, True)

    # ---- price events ----------------------------------------------------------------
    def on_price(self, symbol: str, price: float, ts: int) -> list[SimResult]:
        """Show a traded price: waiting market orders fill at it (at the ask/bid if quoted)."""
        self.last_price[symbol] = price
        out: list[SimResult] = []
        for cid in [c for c, o in self.resting.items() if o.symbol == symbol and o.limit is None]:
            order = self.resting.pop(cid)
            px = self._quoted(symbol, order.side, price)
            out.append(self._fill(order, order.qty - order.filled, px, ts, True))
        return out

    def on_candle(
        self, symbol: str, high: float, low: float, volume: float, ts: int
    ) -> list[SimResult]:
        """A candle traded: limit orders crossed by it fill, at most ``participation`` x volume."""
        out: list[SimResult] = []
        cap = round_step(
            Decimal(repr(float(volume))) * self.participation, self.limits[symbol].amount_step
        )
        for cid in [c for c, o in self.resting.items() if o.symbol == symbol and o.limit]:
            order = self.resting[cid]
            assert order.limit is not None
            crossed = (
                Decimal(repr(float(low))) < order.limit
                if order.side == "buy"
                else Decimal(repr(float(high))) > order.limit
            )
            if not crossed or cap <= 0:
                continue
            qty = min(order.qty - order.filled, cap)
            cap -= qty
            result = self._fill(order, qty, float(order.limit), ts, False)
            if isinstance(result, OrderFilled):
                order.filled += qty
            if order.filled >= order.qty or isinstance(result, OrderRejected):
                del self.resting[cid]
            out.append(result)
        return out

    def match_quote(self, symbol: str, bid: float, ask: float, ts: int) -> list[SimResult]:
        """Limit orders crossed by a new bid/ask fill in full at their limit price."""
        crossed = [
            c
            for c, o in self.resting.items()
            if o.symbol == symbol and o.limit is not None and crosses(o.side, o.limit, bid, ask)
        ]
        out: list[SimResult] = []
        for cid in crossed:
            limit = self.resting[cid].limit
            assert limit is not None
            out.append(self.fill_resting(cid, limit, ts))
        return out

    def fill_resting(self, client_id: str, price: Decimal, ts: int) -> SimResult:
        """Fill what is left of a resting order at ``price`` (no slippage); it leaves the book."""
        order = self.resting.pop(client_id)
        result = self._fill(order, order.qty - order.filled, float(price), ts, False)
        if isinstance(result, OrderFilled):
            order.filled = order.qty
        return result

    # ---- money -----------------------------------------------------------------------
    def _fill(
        self, order: RestingOrder, qty: Decimal, price: float, ts: int, taker: bool
    ) -> SimResult:
        return self._fill_at(order.client_id, order.symbol, order.side, qty, price, ts, taker)

    def _fill_at(
        self, client_id: str, symbol: str, side: Side, qty: Decimal, price: float, ts: int,
        taker: bool,
    ) -> SimResult:  # fmt: skip
        """Fill ``qty`` of an order at ``price`` (+ slippage to the tick if ``taker``)."""
        pair = self.assets.get(symbol)
        if pair is None:
            base, quote = symbol.split("/")
            pair = self.assets[symbol] = (base, quote)
        base, quote = pair
        balances = self.balances
        px = Decimal(repr(float(price)))
        if taker:
            slip = px * self.slippage_rate
            tick = self.limits[symbol].price_tick
            px = (
                _to_tick(px + slip, tick, True)
                if side == "buy"
                else _to_tick(px - slip, tick, False)
            )
        value = qty * px
        fee = value * self.fee_rate  # (qty * px) * rate: the product the fee always was
        if side == "buy":
            cost = value + fee
            have = balances.get(quote, _ZERO)
            if have < cost:
                return OrderRejected(client_id, symbol, "insufficient balance", ts)
            balances[quote] = have - cost
            balances[base] = balances.get(base, _ZERO) + qty
        else:
            if balances.get(base, _ZERO) < qty:
                return OrderRejected(client_id, symbol, "insufficient balance", ts)
            balances[base] -= qty
            balances[quote] = balances.get(quote, _ZERO) + value - fee
        fill = _filled(client_id, symbol, side, qty, px, fee, ts, False)
        self.ledger.append(fill)
        return fill


def sim_to_snapshot(sim: SimExchange) -> dict[str, object]:
    """The simulated exchange's state (balances, resting orders, last prices) as plain data."""
    return {
        "balances": {k: str(v) for k, v in sim.balances.items()},
        "resting": [
            {
                "client_id": o.client_id,
                "symbol": o.symbol,
                "side": o.side,
                "qty": str(o.qty),
                "limit": None if o.limit is None else str(o.limit),
                "filled": str(o.filled),
            }
            for o in sim.resting.values()
        ],
        "last_price": dict(sim.last_price),
    }


def sim_restore(sim: SimExchange, snap: dict[str, object], seen_client_ids: set[str]) -> None:
    """Put a fresh simulated exchange back into a snapshot's state."""
    balances = snap["balances"]
    resting = snap["resting"]
    last = snap["last_price"]
    assert isinstance(balances, dict) and isinstance(resting, list) and isinstance(last, dict)
    sim.balances = {k: Decimal(v) for k, v in balances.items()}
    sim.resting = {
        o["client_id"]: RestingOrder(
            o["client_id"],
            o["symbol"],
            o["side"],
            Decimal(o["qty"]),
            None if o["limit"] is None else Decimal(o["limit"]),
            Decimal(o["filled"]),
        )
        for o in resting
    }
    sim.last_price = {k: float(v) for k, v in last.items()}
    sim.seen_client_ids = set(seen_client_ids)
