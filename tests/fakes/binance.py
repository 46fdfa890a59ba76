"""A fake Binance (spot + USDT-M futures) REST server on 127.0.0.1 with a ledger and fault knobs.

Standalone: ``python tests/fakes/binance.py --port 0 --print-port`` (prints the port, serves
until killed). In tests: ``FakeBinance(secret=...).start()`` in a fixture, ``.stop()`` after.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fakes.binance_json import (  # noqa: E402
    account_json,
    exchange_info,
    order_json,
    positions_json,
    trades_json,
)
from tests.fakes.binance_ledger import BinanceReject, Ledger, Order, load_candles  # noqa: E402
from tests.fakes.threaded import ThreadedServer  # noqa: E402

Handler = Callable[[web.Request, dict[str, str], str], Awaitable[Any]]


def _s(x: Decimal) -> str:
    return format(x.normalize(), "f") if x else "0"


class FakeBinance(ThreadedServer):
    """The HTTP face of a :class:`Ledger`, plus request log, unknown-endpoint log and faults."""

    thread_name = "fake-binance"

    def __init__(self, *, api_key: str = "test-key", secret: str = "test-secret") -> None:
        self.api_key, self.secret = api_key, secret
        self.ledger = Ledger()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.unknown: list[tuple[str, str]] = []
        self.port = 0
        # n, status, retry-after, path prefix, method ("" = any)
        self._faults: list[tuple[int, int, float | None, str, str]] = []
        self._outages: list[tuple[float, int, str, str]] = []  # until, status, path, method
        self._delay_orders: list[float] = []
        self._down_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], tuple[Handler, bool]] = {}
        for prefix, kind in (("/api/v3", "spot"), ("/fapi/v1", "futures")):
            self._route_market_data(prefix, kind)
        writers: tuple[tuple[str, Handler], ...] = (
            ("POST", self._new_order),
            ("GET", self._get_order),
            ("DELETE", self._cancel_order),
        )
        for m, h in writers:
            self._routes[(m, "/api/v3/order")] = (h, True)
            self._routes[(m, "/fapi/v1/order")] = (h, True)
            self._routes[(m, "/fapi/v1/algoOrder")] = (h, True)
        readers: tuple[tuple[str, Handler], ...] = (
            ("/api/v3/openOrders", self._open_orders),
            ("/fapi/v1/openOrders", self._open_orders),
            ("/fapi/v1/openAlgoOrders", self._open_orders),
            ("/api/v3/account", self._account),
            ("/fapi/v2/account", self._account),
            ("/fapi/v3/account", self._account),
            ("/api/v3/myTrades", self._trades),
            ("/fapi/v1/userTrades", self._trades),
            ("/fapi/v2/positionRisk", self._positions),
            ("/fapi/v3/positionRisk", self._positions),
        )
        for path, h in readers:
            self._routes[("GET", path)] = (h, True)

    @property
    def url(self) -> str:
        """Base URL to give ccxt as ``api_base_url``."""
        return f"http://127.0.0.1:{self.port}"

    # ---- knobs -----------------------------------------------------------------------
    def fail_next(
        self,
        n: int,
        status: int = 503,
        *,
        retry_after: float | None = None,
        path: str = "",
        method: str = "",
    ) -> None:
        """Answer the next ``n`` matching requests (path prefix, method) with ``status``."""
        self._faults.append((n, status, retry_after, path, method))

    def fail_for(
        self, seconds: float, status: int = 503, *, path: str = "", method: str = ""
    ) -> None:
        """Answer every matching request with ``status`` for ``seconds`` of wall time from now."""
        self._outages.append((time.monotonic() + seconds, status, path, method))

    def heal(self) -> None:
        """End every fault and outage now."""
        self._faults.clear()
        self._outages.clear()
        self._down_until = 0.0

    def delay_next_order(self, seconds: float) -> None:
        """Accept the next new order at once but answer only after ``seconds``."""
        self._delay_orders.append(seconds)

    def network_down(self, seconds: float) -> None:
        """Drop every connection for ``seconds`` from now."""
        self._down_until = time.monotonic() + seconds

    def calls(self, method: str, path: str) -> list[dict[str, str]]:
        """Params of the recorded requests to one endpoint."""
        return [p for m, pa, p in self.requests if m == method and pa == path]

    # ---- lifecycle -------------------------------------------------------------------
    async def _serve(self, port: int) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is None or self._runner is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ---- HTTP plumbing ---------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(await request.text(), keep_blank_values=True))
        self.requests.append((request.method, request.path, params))
        if time.monotonic() < self._down_until:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()
        now = time.monotonic()
        for until, status, path, method in self._outages:
            if now < until and request.path.startswith(path) and method in ("", request.method):
                return web.Response(status=status, text="<html><body>Unavailable</body></html>")
        for i, (n, status, retry_after, path, method) in enumerate(self._faults):
            if request.path.startswith(path) and method in ("", request.method):
                self._faults[i] = (n - 1, status, retry_after, path, method)
                if n - 1 <= 0:
                    del self._faults[i]
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                body = (
                    '{"code":-1003,"msg":"Too many requests."}'
                    if status in (418, 429)
                    else "<html><body>Service Unavailable</body></html>"
                )
                return web.Response(status=status, text=body, headers=headers)
        resp: web.StreamResponse = await handler(request)
        return resp

    async def _dispatch(self, request: web.Request) -> web.Response:
        raw_body = await request.text()
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        route = self._routes.get((request.method, request.path))
        if route is None:
            self.unknown.append((request.method, request.path))
            return web.Response(status=404, text="<html>404 Not Found</html>")
        handler, signed = route
        try:
            if signed:
                self._check_signature(request, raw_body)
            kind = "futures" if request.path.startswith("/fapi") else "spot"
            result = await handler(request, params, kind)
        except BinanceReject as e:
            return web.json_response({"code": e.code, "msg": e.msg}, status=e.status)
        return web.json_response(result)

    def _check_signature(self, request: web.Request, raw_body: str) -> None:
        if request.headers.get("X-MBX-APIKEY") != self.api_key:
            raise BinanceReject(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        payload = request.query_string if request.method in ("GET", "DELETE") else raw_body
        signed, _, sig = payload.rpartition("&signature=")
        want = hmac.new(self.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not sig or not hmac.compare_digest(sig, want):
            raise BinanceReject(-1022, "Signature for this request is not valid.")

    # ---- market data -----------------------------------------------------------------
    def _route_market_data(self, prefix: str, kind: str) -> None:
        async def ping(_r: web.Request, _p: dict[str, str], _k: str) -> Any:
            return {}

        async def server_time(_r: web.Request, _p: dict[str, str], _k: str) -> Any:
            return {"serverTime": self.ledger.now_ms()}

        for path, h in (
            ("/ping", ping),
            ("/time", server_time),
            ("/exchangeInfo", self._info),
            ("/depth", self._depth),
            ("/ticker/bookTicker", self._book_ticker),
            ("/klines", self._klines),
        ):
            self._routes[("GET", prefix + path)] = (h, False)

    async def _info(self, _r: web.Request, _p: dict[str, str], kind: str) -> Any:
        return exchange_info(self.ledger, kind)

    def _top(self, p: dict[str, str]) -> tuple[str, Decimal, Decimal]:
        sym = p.get("symbol", "")
        if sym not in self.ledger.book:
            raise BinanceReject(-1121, "Invalid symbol.")
        bid, ask = self.ledger.book[sym]
        return sym, bid, ask

    async def _depth(self, _r: web.Request, p: dict[str, str], _k: str) -> Any:
        _sym, bid, ask = self._top(p)
        return {
            "lastUpdateId": 1,
            "E": self.ledger.now_ms(),
            "T": self.ledger.now_ms(),
            "bids": [[_s(bid), "10"]],
            "asks": [[_s(ask), "10"]],
        }

    async def _book_ticker(self, _r: web.Request, p: dict[str, str], _k: str) -> Any:
        sym, bid, ask = self._top(p)
        return {
            "symbol": sym,
            "bidPrice": _s(bid),
            "bidQty": "10",
            "askPrice": _s(ask),
            "askQty": "10",
            "time": self.ledger.now_ms(),
        }

    async def _klines(self, _r: web.Request, p: dict[str, str], _k: str) -> Any:
        if p.get("interval") != "1m":
            raise BinanceReject(-1120, "Invalid interval.")
        rows = [
            r
            for r in self.ledger.candles.get(p.get("symbol", ""), [])
            if r[0] <= self.ledger.now_ms()
        ]
        if "startTime" in p:
            rows = [r for r in rows if r[0] >= int(p["startTime"])]
        if "endTime" in p:
            rows = [r for r in rows if r[0] <= int(p["endTime"])]
        limit = int(p.get("limit", "500"))
        rows = rows[:limit] if "startTime" in p else rows[-limit:]
        return [
            [
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                str(r[4]),
                str(r[5]),
                int(r[0]) + 59_999,
                "0",
                1,
                "0",
                "0",
                "0",
            ]
            for r in rows
        ]

    # ---- orders ----------------------------------------------------------------------
    def _order_json(self, o: Order, full: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = order_json(o, full)
        return out

    async def _new_order(self, r: web.Request, p: dict[str, str], kind: str) -> Any:
        o = self.ledger.place(kind, p, algo=r.path.endswith("algoOrder"))
        if self._delay_orders:
            await asyncio.sleep(self._delay_orders.pop(0))
        return self._order_json(o, full=True)

    def _lookup(self, r: web.Request, p: dict[str, str], kind: str) -> Order:
        algo = r.path.endswith("algoOrder")
        return self.ledger.find(
            kind,
            p.get("symbol", ""),
            order_id=p.get("algoId" if algo else "orderId"),
            client_id=p.get("clientAlgoId" if algo else "origClientOrderId"),
            algo=algo,
        )

    async def _get_order(self, r: web.Request, p: dict[str, str], kind: str) -> Any:
        return self._order_json(self._lookup(r, p, kind))

    async def _cancel_order(self, r: web.Request, p: dict[str, str], kind: str) -> Any:
        try:
            o = self._lookup(r, p, kind)
        except BinanceReject:
            raise BinanceReject(-2011, "Unknown order sent.") from None
        out = self._order_json(self.ledger.cancel(o))
        if kind == "spot":  # like Binance: the cancel request's own id, the order's as orig
            out.update(
                origClientOrderId=o.client_id,
                clientOrderId=p.get("newClientOrderId") or f"cancel_{o.order_id:08x}",
            )
        return out

    async def _open_orders(self, r: web.Request, p: dict[str, str], kind: str) -> Any:
        algo = "Algo" in r.path
        return [
            self._order_json(o)
            for o in self.ledger.orders
            if o.kind == kind
            and o.algo == algo
            and o.status in ("NEW", "PARTIALLY_FILLED")
            and p.get("symbol", o.symbol) == o.symbol
        ]

    async def _account(self, _r: web.Request, _p: dict[str, str], kind: str) -> Any:
        return account_json(self.ledger, kind)

    async def _positions(self, _r: web.Request, _p: dict[str, str], _k: str) -> Any:
        return positions_json(self.ledger)

    async def _trades(self, _r: web.Request, p: dict[str, str], kind: str) -> Any:
        return trades_json(self.ledger, p, kind)


def main() -> None:
    """Run the fake standalone, optionally seeded with a repo data file."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--print-port", action="store_true")
    ap.add_argument("--api-key", default="test-key")
    ap.add_argument("--secret", default="test-secret")
    ap.add_argument("--candles", type=Path, help="data/binance_spot_1m/BTC-USDT_1m.csv.gz")
    ap.add_argument("--usdt", default="10000")
    args = ap.parse_args()
    fake = FakeBinance(api_key=args.api_key, secret=args.secret)
    fake.ledger.add_market("BTC", "USDT", tick="0.01", step="0.00001", min_notional="5")
    fake.ledger.set_balance("USDT", args.usdt)
    fake.ledger.wallet["USDT"] = Decimal(args.usdt)
    if args.candles:
        fake.ledger.set_candles("BTCUSDT", load_candles(args.candles))
    else:
        fake.ledger.set_book("BTCUSDT", "30000", "30000.01")
    fake.start(args.port)
    if args.print_port:
        print(json.dumps({"port": fake.port}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
