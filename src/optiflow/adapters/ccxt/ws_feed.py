"""Websocket best bid/ask through ccxt.pro, reconnecting with back-off; a :class:`PriceFeed`.

ccxt.pro reconnects on the next ``watch_*`` call after a dropped connection, so the pump
simply keeps calling it: an error marks the feed down, waits (exponential back-off with
jitter, capped) and calls again. Quotes are coalesced to the latest per symbol, so a slow
reader never works through a backlog of stale prices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal

import ccxt.pro as ccxt_pro  # type: ignore[import-untyped]

from optiflow.adapters.ccxt.factory import ExchangeSpec, rebase_url, rebase_urls
from optiflow.adapters.ccxt.parse import parse_book
from optiflow.domain.market import BookTop
from optiflow.ports.feed import PriceQuote

log = logging.getLogger("optiflow.ws")

WatchMethod = Literal["bidsasks", "orderbook", "ticker"]


def pro_class(spec: ExchangeSpec) -> Any:
    """The ccxt.pro class for ``spec`` (None when ccxt.pro has no websocket for it)."""
    ex_id = "binanceusdm" if spec.market == "futures" and spec.exchange_id == "binance" else None
    return getattr(ccxt_pro, ex_id or spec.exchange_id, None)


def watch_method(exchange: Any) -> WatchMethod | None:
    """The best websocket price method the exchange offers (None: REST polling only)."""
    has = getattr(exchange, "has", {}) or {}
    if has.get("watchBidsAsks"):
        return "bidsasks"
    if has.get("watchOrderBook"):
        return "orderbook"
    if has.get("watchTicker"):
        return "ticker"
    return None


def supports_websocket(spec: ExchangeSpec) -> bool:
    """Whether ccxt.pro can stream best bid/ask for this exchange and market."""
    cls = pro_class(spec)
    return cls is not None and watch_method(cls()) is not None


def build_pro_exchange(spec: ExchangeSpec) -> Any:
    """A public (key-less) ccxt.pro exchange for ``spec`` with REST and ws URLs rebased."""
    cls = pro_class(spec)
    if cls is None:
        raise ValueError(f"ccxt.pro has no websocket exchange {spec.exchange_id!r}")
    kind = "swap" if spec.market == "futures" else "spot"
    types = ["linear"] if spec.market == "futures" else ["spot"]
    exchange = cls(
        {
            "enableRateLimit": True,
            "timeout": spec.timeout_ms,
            "options": {
                "fetchCurrencies": False,
                "fetchMargins": False,
                "defaultType": kind,
                "fetchMarkets": {"types": types},
            },
        }
    )
    api = exchange.urls.get("api")
    if isinstance(api, dict):
        ws = api.get("ws")
        if spec.api_base_url:
            api = rebase_urls(api, spec.api_base_url, skip=("ws",))
        if ws is not None and spec.ws_base_url:
            ws = rebase_urls(ws, spec.ws_base_url)
        if ws is not None:
            api["ws"] = ws
        exchange.urls["api"] = api
    elif isinstance(api, str) and spec.api_base_url:
        exchange.urls["api"] = rebase_url(api, spec.api_base_url)
    return exchange


class WsPriceFeed:
    """Best bid/ask of a set of symbols over ccxt.pro websockets."""

    def __init__(
        self,
        exchange: Any,
        *,
        futures: bool = False,
        now_ms: Callable[[], int] | None = None,
        watch_timeout_s: float = 30.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Wrap a ccxt.pro exchange; nothing connects before ``start``."""
        self.exchange, self.futures = exchange, futures
        self.method = watch_method(exchange)
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.watch_timeout_s, self.backoff_s, self.max_backoff_s = (
            watch_timeout_s,
            backoff_s,
            max_backoff_s,
        )
        self._sleep = sleep
        self.latest: dict[str, BookTop] = {}
        self.received_at: dict[str, float] = {}  # monotonic seconds of the last quote
        self.errors = 0
        self.reconnects = 0
        self._pending: dict[str, None] = {}  # symbols with an unread quote, in arrival order
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._down: set[int] = set()
        self._closed = False

    @classmethod
    def from_spec(cls, spec: ExchangeSpec, **kwargs: Any) -> WsPriceFeed:
        """Build the ccxt.pro exchange from ``spec`` and wrap it."""
        return cls(build_pro_exchange(spec), futures=spec.market == "futures", **kwargs)

    @property
    def connected(self) -> bool:
        """True while every watcher has had a quote since its last error."""
        return bool(self._tasks) and not self._down and not self._closed

    def age_s(self, symbol: str) -> float | None:
        """Seconds since the last quote of ``symbol`` arrived (None: never)."""
        at = self.received_at.get(symbol)
        return None if at is None else time.monotonic() - at

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self, symbols: Sequence[str]) -> None:
        """Start one watcher (all symbols at once where the exchange allows it)."""
        if self.method is None:
            raise ValueError("this exchange has no websocket price stream")
        syms = list(dict.fromkeys(symbols))
        groups = [syms] if self.method == "bidsasks" else [[s] for s in syms]
        for i, group in enumerate(groups):
            self._down.add(i)
            self._tasks.append(asyncio.create_task(self._pump(i, group), name=f"ws-{group[0]}"))

    async def close(self) -> None:
        """Stop the watchers and close the websocket connections."""
        self._closed = True
        self._wake.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(t, 5)
        self._tasks = []
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.exchange.close(), 5)

    # ---- reading ---------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[PriceQuote]:
        """The quotes as they arrive, coalesced to the latest per symbol."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[PriceQuote]:
        while not self._closed:
            if not self._pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                continue
            sym = next(iter(self._pending))
            del self._pending[sym]
            yield PriceQuote(sym, self.latest[sym])

    # ---- the watchers ----------------------------------------------------------------
    def _ccxt_symbol(self, symbol: str) -> str:
        if self.futures and ":" not in symbol:
            return f"{symbol}:{symbol.split('/')[1]}"
        return symbol

    async def _watch(self, ccxt_syms: list[str]) -> dict[str, Any]:
        ex = self.exchange
        if self.method == "bidsasks":
            got: dict[str, Any] = await ex.watch_bids_asks(ccxt_syms)
            return got
        if self.method == "orderbook":
            return {ccxt_syms[0]: await ex.watch_order_book(ccxt_syms[0], 5)}
        return {ccxt_syms[0]: await ex.watch_ticker(ccxt_syms[0])}

    async def _pump(self, index: int, symbols: list[str]) -> None:
        back = {self._ccxt_symbol(s): s for s in symbols}
        ccxt_syms = list(back)
        failures = 0
        while not self._closed:
            try:
                got = await asyncio.wait_for(self._watch(ccxt_syms), self.watch_timeout_s)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                # a quiet market or a half-dead connection: the REST cycle covers both
                self._down.add(index)
                continue
            except Exception as exc:  # noqa: BLE001 - any ws failure: back off, watch again
                self.errors += 1
                failures += 1
                if index not in self._down:
                    log.warning("websocket prices down for %s: %s", ",".join(symbols), exc)
                self._down.add(index)
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (failures - 1))
                await self._sleep(delay * random.uniform(0.5, 1.0))
                continue
            if index in self._down and failures:
                self.reconnects += 1
                log.info("websocket prices back for %s", ",".join(symbols))
            failures = 0
            self._down.discard(index)
            self._publish(back, got)

    def _cached(self, ccxt_sym: str) -> Any:
        # messages that arrive while no watch is pending only update ccxt's cache
        ex = self.exchange
        name = {"bidsasks": "bidsasks", "orderbook": "orderbooks", "ticker": "tickers"}
        cache = getattr(ex, name[self.method or "ticker"], None)
        return cache.get(ccxt_sym) if isinstance(cache, dict) else None

    def _publish(self, back: dict[str, str], got: dict[str, Any]) -> None:
        for ccxt_sym, returned in got.items():
            sym = back.get(ccxt_sym)
            payload = self._cached(ccxt_sym) or returned
            if sym is None or not isinstance(payload, dict):
                continue
            try:
                book = parse_book(payload, now_ms=self._now_ms())
            except (KeyError, IndexError, TypeError, ValueError):
                continue
            if not (book.bid > 0 and book.ask > 0):
                continue
            self.latest[sym] = book
            self.received_at[sym] = time.monotonic()
            self._pending[sym] = None
        if self._pending:
            self._wake.set()
