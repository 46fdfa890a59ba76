"""A static Binance ``exchangeInfo`` on 127.0.0.1 for the Freqtrade peer run (issue 12).

Freqtrade's backtesting loads the exchange's markets through ccxt before it starts, and only
PyPI is reachable here, so api.binance.com cannot answer. This serves the spot markets of
OptiFlow's own table (``src/optiflow/config/binance_spot_markets.json``: price tick, lot
step, minimum amount and notional) in Binance's ``GET /api/v3/exchangeInfo`` shape; the
Freqtrade config points ccxt's public URL at it (``freqtrade_config(port)`` below). Nothing
but the markets is served: any other request gets a 404 and is printed to stderr.

    python bench/peers/markets_server.py [PORT]     # standalone, prints the port
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MARKETS = REPO / "src" / "optiflow" / "config" / "binance_spot_markets.json"
PEERS = Path(__file__).resolve().parent


def exchange_info() -> dict[str, Any]:
    """Binance's spot exchangeInfo body for every market of OptiFlow's table."""
    table: dict[str, dict[str, str]] = json.loads(MARKETS.read_text())["markets"]
    symbols = []
    for pair, m in table.items():
        base, quote = pair.split("/")
        filters = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": m["price_tick"],
                "maxPrice": "1000000",
                "tickSize": m["price_tick"],
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": m["min_amount"],
                "maxQty": "9000000",
                "stepSize": m["amount_step"],
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": m["min_notional"],
                "applyMinToMarket": True,
                "maxNotional": "9000000",
            },
        ]
        symbols.append(
            {
                "symbol": base + quote,
                "status": "TRADING",
                "baseAsset": base,
                "quoteAsset": quote,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "permissions": ["SPOT"],
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"],
                "filters": filters,
            }
        )
    return {"timezone": "UTC", "serverTime": 0, "rateLimits": [], "symbols": symbols}


class _Handler(BaseHTTPRequestHandler):
    """Answers ``/api/v3/exchangeInfo``; 404 (printed) for anything else."""

    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        """Serve the markets."""
        if self.path.split("?")[0].endswith("/exchangeInfo"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
            return
        print(f"markets_server: 404 {self.path}", file=sys.stderr)
        self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: one line per request would flood the bench output."""


def serve(port: int = 0) -> ThreadingHTTPServer:
    """Start the server in a daemon thread; ``server.server_address[1]`` is its port."""
    _Handler.body = json.dumps(exchange_info()).encode()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    threading.Thread(target=server.serve_forever, name="markets", daemon=True).start()
    return server


def freqtrade_config(port: int) -> dict[str, Any]:
    """``bench/peers/freqtrade_config.json`` with ccxt's public API pointed at this server."""
    cfg: dict[str, Any] = json.loads((PEERS / "freqtrade_config.json").read_text())
    cfg["exchange"]["ccxt_config"] = {
        "urls": {"api": {"public": f"http://127.0.0.1:{port}/api/v3"}},
        "options": {"fetchMarkets": {"types": ["spot"]}},
    }
    return cfg


if __name__ == "__main__":
    srv = serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(srv.server_address[1], flush=True)
    threading.Event().wait()
