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
gateway does.

A restart (the start-up reconciliation) meets no faults, except a stop's cancel, which meets
the fault of its market moment as the run's cancel there did: the market stands still. Nor
does it learn what an uninterrupted run had not been told yet at that moment: an order whose
latest change reached the bot only as a fault (a stop filled by ``stop_fill``, the rest of
a ``partial_fill``, an answer lost to ``timeout_after_accept``) is answered at start-up as
the bot last saw it (or not at all); the next lookup after the start-up tells it, as it
told the uninterrupted run. These orders (``RehearsalExchange.unseen``) are kept in the
exchange's file, written before the change they hide.

A fault that filled stops happened once: the exchange's file keeps its request and market
time with the stops as they stood before (``RehearsalExchange.causes``). A restart that
replays that point meets it at the same request without filling anything again (a stop
placed since is not touched), and a lookup it replays before that request is answered with
the stop as it stood then, as the uninterrupted run was answered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from optiflow.adapters.sim.rehearsal import PARTIAL, RehearsalExchange
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
    enabled: bool = True  # False: the bot (re)starts (no faults, no news; see the docstring)
    injected: dict[str, int] = field(default_factory=dict)  # kind -> how many times
    # the causes (request key, market time) of ``inner.causes`` this process has met
    replayed: set[tuple[str, int]] = field(default_factory=set)

    def _active(self, kinds: tuple[str, ...], key: str, always: bool = False) -> str | None:
        """The fault this request meets now, if any (scheduled first, then random)."""
        if not self.enabled and not always:
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
        """A stop filled between cycles: every open stop fills now (unseen by the bot)."""
        now = self.now_ms()
        self.replayed.add((key, now))
        if any(c[0] == key and c[1] == now for c in self.inner.causes):
            return  # this very request's fault filled the stops already (a restart replays it)
        if self._active(("stop_fill",), key) is not None:
            before = {c: self.inner.orders[c] for c in self.inner.stops if c in self.inner.orders}
            if not before:
                return
            for cid in self.inner.stops:  # the bot last saw them open (if it saw them at all)
                self.inner.unseen.setdefault(cid, self.inner.orders.get(cid))
            self.inner.causes = [c for c in self.inner.causes if c[1] == now]
            self.inner.causes.append((key, now, before))
            self.inner.fill_stops(sorted({r.symbol for r in self.inner.stops.values()}))

    def _as_before(self, client_id: str) -> OrderUpdate | None:
        """A stop as it stood before a fault filled it, if this request comes before that
        fault's request in a point a restart replays (so it is answered as it was then)."""
        now = self.now_ms()
        for key, at, before in self.inner.causes:
            if at == now and (key, at) not in self.replayed and client_id in before:
                return before[client_id]
        return None

    def _partial(self, up: OrderUpdate) -> OrderUpdate | None:
        """A filled market order's first answer under ``partial_fill``: a third of it."""
        step = self.inner.sim.limits[up.symbol].amount_step
        part = round_step(up.filled / 3, step)
        if not 0 < part < up.filled:
            return None
        return replace(up, state="partial", filled=part, fee_quote=up.fee_quote * part / up.filled)

    def _no_answer(self, client_id: str, last: OrderUpdate | None) -> None:
        """A request about this order failed: the bot last saw ``last`` (kept in the file)."""
        if client_id not in self.inner.unseen:
            self.inner.unseen[client_id] = last
            self.inner.save()

    def _told(self, client_id: str) -> OrderUpdate | None:
        """At start-up: the order as the bot last saw it; no answer if it never saw it."""
        seen = self.inner.unseen[client_id]
        if seen == PARTIAL:
            up = self.inner.orders.get(client_id)
            seen = None if up is None else self._partial(up)
        if not isinstance(seen, OrderUpdate):
            raise RetryableError(f"simulated lookups down (restart: {client_id} not told yet)")
        return seen

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
        """Candles, unless the network is down or the server fails."""
        kind = self._active(("network_down", "server_error"), f"candles|{symbol}")
        self._fail(kind, "candles")
        return await self.inner.fetch_closed_candles(symbol, timeframe, since_ms, limit)

    # ---- orders -------------------------------------------------------------------------
    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Place an order; it may fail before, time out after, or report a part."""
        key = f"submit|{order.client_id}"
        self._stops(key)
        before = self._active(("network_down", "server_error", "rate_limited"), key)
        cid, unseen = order.client_id, self.inner.unseen
        if before is not None and cid not in self.inner.orders:
            self._no_answer(cid, None)  # the bot cannot tell whether it reached the exchange
        self._fail(before, f"submit {cid}")
        after = self._active(("timeout_after_accept", "partial_fill"), key + "|after")
        lie = after == "partial_fill" and order.type == "market"
        if after == "timeout_after_accept" or lie:  # in the exchange's file with the order
            unseen.setdefault(cid, PARTIAL if lie else None)
        try:
            up = await self.inner.submit_order(order)
        except Exception:
            if cid not in self.inner.orders:
                unseen.pop(cid, None)
            raise
        if after == "timeout_after_accept":
            raise RetryableError(f"simulated timeout after accept ({cid})")
        part = self._partial(up) if lie and up.state == "filled" else None
        if part is not None:  # a third first (the rest later: unequal rows)
            unseen[cid] = part
            return part
        unseen.pop(cid, None)
        return up

    async def fetch_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Look an order up, unless lookups are down."""
        if not self.enabled and client_id in self.inner.unseen:
            return self._told(client_id)  # a restart learns nothing the run was not told
        key = f"lookup|{client_id}"
        self._stops(key)
        early = self._as_before(client_id)  # asked before the fault's own request: not told
        kinds = ("network_down", "server_error", "rate_limited", "lookups_down")
        self._fail(self._active(kinds, key), f"lookup {client_id}")
        if early is not None:
            return early
        up = await self.inner.fetch_order(symbol, client_id)
        if self.enabled:
            self.inner.unseen.pop(client_id, None)  # told now
        return up

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel, unless the request fails."""
        if not self.enabled and client_id in self.inner.unseen:
            raise RetryableError(f"simulated network down (restart: {client_id} not told yet)")
        key = f"cancel|{client_id}"
        kinds = ("network_down", "server_error", "rate_limited")
        # at start-up too: a stop is cancelled then only where the run cancels it at this
        # moment (the cancel a kill cut off, a resize), so it meets this moment's fault
        kind = self._active(kinds, key, always=True)
        if kind is not None and client_id in self.inner.orders:
            self._no_answer(client_id, self.inner.orders[client_id])  # still as it saw it
        self._fail(kind, f"cancel {client_id}")
        up = await self.inner.cancel_order(symbol, client_id)
        if up is not None:
            self.inner.unseen.pop(client_id, None)  # its final state, told
        return up

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
