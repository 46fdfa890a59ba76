"""A fake Binance market-data websocket on 127.0.0.1: SUBSCRIBE acks and pushed bookTicker.

ccxt.pro connects to ``{ws_base_url}/ws/<n>`` and sends
``{"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1}``; the fake answers
``{"result": null, "id": 1}`` and from then on sends that connection every quote pushed for
the symbol, as Binance's raw bookTicker stream does (``{"u", "s", "b", "B", "a", "A"}``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.threaded import ThreadedServer


class FakeBinanceWs(ThreadedServer):
    """Websocket face of the fake exchange, with knobs to drop and refuse connections."""

    thread_name = "fake-binance-ws"

    def __init__(self) -> None:
        """Not serving until ``start``."""
        self.port = 0
        self.subscriptions: list[tuple[int, str]] = []  # (connection number, stream) in order
        self.messages: list[Any] = []  # every client message, decoded
        self.pushed = 0
        self.connections_made = 0
        self._subs: dict[web.WebSocketResponse, set[str]] = {}
        self._refuse_until = 0.0
        self._update_id = 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL to give ccxt as ``ws_base_url``."""
        return f"ws://127.0.0.1:{self.port}"

    # ---- lifecycle -------------------------------------------------------------------
    async def _serve(self, port: int) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Close every connection, stop serving and join the thread."""
        if self._loop is None or self._runner is None:
            return
        self._run(self._close_all())
        self._run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._runner = self._thread = None  # a second stop is a no-op

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("fake binance ws not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # ---- knobs -----------------------------------------------------------------------
    @property
    def open_connections(self) -> int:
        """Connections currently open."""
        return len(self._subs)

    def subscribed(self, stream: str) -> int:
        """Open connections subscribed to ``stream`` (e.g. ``btcusdt@bookTicker``)."""
        return sum(1 for s in list(self._subs.values()) if stream in s)

    def push_book(self, symbol_id: str, bid: str | Decimal, ask: str | Decimal) -> int:
        """Send a bookTicker to every subscriber of ``symbol_id``; returns how many got it."""
        self._update_id += 1
        msg = {
            "u": self._update_id,
            "s": symbol_id,
            "b": str(bid),
            "B": "10.00000000",
            "a": str(ask),
            "A": "10.00000000",
        }
        sent: int = self._run(self._send(f"{symbol_id.lower()}@bookTicker", msg))
        self.pushed += sent
        return sent

    def drop_connections(self) -> None:
        """Close every open connection from the server side (as a network drop would)."""
        self._run(self._close_all())

    def refuse(self, seconds: float) -> None:
        """Refuse new connections (HTTP 503 on the upgrade) for ``seconds`` from now."""
        self._refuse_until = time.monotonic() + seconds

    # ---- websocket plumbing ----------------------------------------------------------
    async def _send(self, stream: str, msg: dict[str, Any]) -> int:
        n = 0
        for ws, streams in list(self._subs.items()):
            if stream in streams and not ws.closed:
                await ws.send_str(json.dumps(msg))
                n += 1
        return n

    async def _close_all(self) -> None:
        for ws in list(self._subs):
            await ws.close(code=1001, message=b"going away")
        self._subs.clear()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if time.monotonic() < self._refuse_until:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        self.connections_made += 1
        number = self.connections_made
        self._subs[ws] = set()
        try:
            async for raw in ws:
                if raw.type != WSMsgType.TEXT:
                    continue
                msg = json.loads(raw.data)
                self.messages.append(msg)
                method, params, rid = msg.get("method"), msg.get("params", []), msg.get("id")
                if method == "SUBSCRIBE":
                    for stream in params:
                        self._subs.setdefault(ws, set()).add(stream)
                        self.subscriptions.append((number, stream))
                    await ws.send_str(json.dumps({"result": None, "id": rid}))
                elif method == "UNSUBSCRIBE":
                    self._subs.get(ws, set()).difference_update(params)
                    await ws.send_str(json.dumps({"result": None, "id": rid}))
                else:
                    await ws.send_str(
                        json.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": rid})
                    )
        finally:
            self._subs.pop(ws, None)
        return ws
