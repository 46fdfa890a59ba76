"""Faults for a rehearsal: a wrapper around its simulated exchange that fails like a real one.

``--faults SPEC`` is a comma-separated list of

* ``KIND@WHEN`` or ``KIND@WHEN+Ns``: the fault is active from WHEN (ISO 8601 UTC, market
  time) for N seconds (default 60);
* ``seed=N`` and ``rate=F``: besides, each request meets a random fault with probability F,
  drawn from the seed, the request and the market time (so a rerun meets the same ones);
* ``kinds=K1/K2``: the kinds random faults are drawn from (default: all).

Kinds: ``timeout_after_accept`` (an order is placed, then the answer times out),
``server_error`` (5xx: the request fails before reaching the exchange), ``rate_limited``
(429 with Retry-After), ``lookups_down`` (order lookups fail), ``network_down`` (every
request fails, market data too), ``partial_fill`` (a market order's first answer shows a third
of it filled; the rest comes with later lookups), ``stop_fill`` (open exchange stops fill at
their trigger between two cycles). Failures raise the domain's ``RetryableError`` as the ccxt
gateway does. A restart happens at the market moment of the kill, so its start-up
reconciliation meets the faults an uninterrupted run meets at that moment (only the candles
it warms up with are never faulted: time does not move while it starts, a fault would last).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.domain.errors import RetryableError, UserInputError
from optiflow.domain.market import BookTop, Candle, MarketLimits
from optiflow.portfolio.position import round_step
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill

KINDS = (
    "timeout_after_accept",
    "server_error",
    "rate_limited",
    "lookups_down",
    "network_down",
    "partial_fill",
    "stop_fill",
)
RETRY_AFTER_S = 2.0


class RateLimited(RetryableError):
    """429: the exchange asks us to stay away for ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        """Keep the wait the exchange asked for."""
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Scheduled windows (kind, start ms, end ms) and the random part."""

    windows: tuple[tuple[str, int, int], ...] = ()
    seed: int = 0
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS


def parse_faults(text: str, parse_time: Callable[[str, str], int | None]) -> FaultSpec:
    """Read ``--faults``; a bad item is one clear line (``UserInputError``)."""
    windows: list[tuple[str, int, int]] = []
    seed, rate = 0, 0.0
    kinds: tuple[str, ...] = KINDS
    for raw in (p.strip() for p in text.split(",")):
        if not raw:
            continue
        try:
            if raw.startswith("seed="):
                seed = int(raw[5:])
            elif raw.startswith("rate="):
                rate = float(raw[5:])
                if not 0 <= rate <= 1:
                    raise ValueError
            elif raw.startswith("kinds="):
                kinds = tuple(k for k in raw[6:].split("/") if k)
                if not kinds or any(k not in KINDS for k in kinds):
                    raise ValueError
            elif "@" in raw:
                kind, when = raw.split("@", 1)
                m = re.fullmatch(r"(.+?)(?:\+(\d+(?:\.\d+)?)s)?", when)
                if kind not in KINDS or m is None:
                    raise ValueError
                start = parse_time("--faults", m.group(1))
                if start is None:
                    raise ValueError
                windows.append((kind, start, start + int(float(m.group(2) or 60) * 1000)))
            else:
                raise ValueError
        except (ValueError, UserInputError):
            raise UserInputError(
                f"--faults {raw!r}: expected KIND@TIME[+Ns], seed=N, rate=0..1 or "
                f"kinds=K1/K2 with KIND one of {', '.join(KINDS)}"
            ) from None
    return FaultSpec(tuple(windows), seed, rate, kinds)


@dataclass(slots=True)
class FaultyGateway:
    """The rehearsal exchange behind the ``ExchangeGateway`` port, with faults injected."""

    inner: RehearsalExchange
    spec: FaultSpec
    now_ms: Callable[[], int]
    enabled: bool = True
    starting: bool = False  # the runtime warms up: its market data is not faulted
    injected: dict[str, int] = field(default_factory=dict)  # kind -> how many times

    def _active(self, kinds: tuple[str, ...], key: str) -> str | None:
        """The fault this request meets now, if any (scheduled first, then random)."""
        if not self.enabled:
            return None
        now = self.now_ms()
        for kind, start, end in self.spec.windows:
            if kind in kinds and start <= now < end:
                return self._count(kind)
        pool = [k for k in kinds if k in self.spec.kinds]
        if self.spec.rate <= 0 or not pool:
            return None
        h = hashlib.blake2b(f"{self.spec.seed}|{key}|{now}".encode(), digest_size=8).digest()
        x = int.from_bytes(h, "big") / 2**64
        if x >= self.spec.rate:
            return None
        return self._count(pool[int(x / self.spec.rate * len(pool)) % len(pool)])

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

    def _fail(self, kind: str | None, what: str) -> None:
        if kind == "rate_limited":
            raise RateLimited(f"429 Too Many Requests ({what})", RETRY_AFTER_S)
        if kind is not None:
            raise RetryableError(f"simulated {kind.replace('_', ' ')} ({what})")

    def _stops(self, key: str) -> None:
        """A stop filled between cycles: every open stop fills now."""
        if self._active(("stop_fill",), key) is not None:
            self.inner.fill_stops(sorted({r.symbol for r in self.inner.stops.values()}))

    # ---- market data ------------------------------------------------------------------
    async def load_markets(self) -> dict[str, MarketLimits]:
        """Markets (never faulted: the rehearsal's own start)."""
        return await self.inner.load_markets()

    async def fetch_book_top(self, symbol: str) -> BookTop:
        """The book, unless the network is down."""
        self._fail(self._active(("network_down",), f"book|{symbol}"), "book")
        return await self.inner.fetch_book_top(symbol)

    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Candles, unless the network is down or the server fails (not while starting)."""
        if self.starting:
            return await self.inner.fetch_closed_candles(symbol, timeframe, since_ms, limit)
        kind = self._active(("network_down", "server_error"), f"candles|{symbol}")
        self._fail(kind, "candles")
        return await self.inner.fetch_closed_candles(symbol, timeframe, since_ms, limit)

    # ---- orders -------------------------------------------------------------------------
    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Place an order; it may fail before, time out after, or report a part."""
        key = f"submit|{order.client_id}"
        self._stops(key)
        before = self._active(("network_down", "server_error", "rate_limited"), key)
        self._fail(before, f"submit {order.client_id}")
        up = await self.inner.submit_order(order)
        after = self._active(("timeout_after_accept", "partial_fill"), key + "|after")
        if after == "timeout_after_accept":
            raise RetryableError(f"simulated timeout after accept ({order.client_id})")
        if after == "partial_fill" and up.state == "filled" and order.type == "market":
            step = self.inner.sim.limits[order.symbol].amount_step
            part = round_step(up.filled / 3, step)
            if 0 < part < up.filled:  # a third first (the rest later: unequal rows)
                fee = up.fee_quote * part / up.filled
                return replace(up, state="partial", filled=part, fee_quote=fee)
        return up

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Look an order up, unless lookups are down."""
        key = f"lookup|{client_id}"
        self._stops(key)
        kinds = ("network_down", "server_error", "rate_limited", "lookups_down")
        self._fail(self._active(kinds, key), f"lookup {client_id}")
        return await self.inner.fetch_order(symbol, client_id)

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel, unless the request fails."""
        key = f"cancel|{client_id}"
        kinds = ("network_down", "server_error", "rate_limited")
        self._fail(self._active(kinds, key), f"cancel {client_id}")
        return await self.inner.cancel_order(symbol, client_id)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        """Open orders, unless lookups are down."""
        kinds = ("network_down", "server_error", "lookups_down")
        self._fail(self._active(kinds, f"open|{symbol}"), "open orders")
        return await self.inner.fetch_open_orders(symbol)

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Balances, unless the network is down."""
        self._fail(self._active(("network_down", "server_error"), "balances"), "balances")
        return await self.inner.fetch_balances()

    async def fetch_my_trades(self, symbol: str, since_ms: int | None) -> list[TradeFill]:
        """Our trades, unless lookups are down."""
        kinds = ("network_down", "server_error", "lookups_down")
        self._fail(self._active(kinds, f"trades|{symbol}"), "trades")
        return await self.inner.fetch_my_trades(symbol, since_ms)

    async def close(self) -> None:
        """Close the exchange."""
        await self.inner.close()
