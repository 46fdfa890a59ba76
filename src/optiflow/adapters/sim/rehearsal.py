"""The rehearsal's simulated exchange: history served as a market, orders filled like the backtest.

One ``ExchangeGateway`` for both sides of a rehearsal. The rehearsal driver shows it each
price of each candle (``show``); the live runtime asks it for books and closed candles and
sends it orders. Fills follow the backtest's model: a market sell decided at a level crossed
inside a sweep fills at that level (``OrderRequest.ref_price``), any other at the current
price; a reactive re-entry on the symbol just exited fills where the exit happened; a buy on a
pair that has not traded in the current candle waits for its next traded price. Slippage and
fees come from the wrapped ``SimExchange``. Stop orders rest until ``fill_stop`` (a fault: the
runtime's own exit decides first while it runs).

Its state (balances, open and recent orders, stops, the ledger of fills, the market time of
the write and the latest sell's price) is its own SQLite file, written at every change like a
real exchange's books, independent of the bot's store: a killed rehearsal reconciles against
it on restart, with the market standing where it stood.
"""

from __future__ import annotations

import json
import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np

from optiflow.adapters.sim.books import OPEN, SimBooks, settled
from optiflow.adapters.sim.exchange import SimExchange, SimResult
from optiflow.adapters.sim.rehearsal_file import (
    SAVE_BOOKS,
    open_file,
    req_from,
    req_json,
    up_from,
    up_json,
)
from optiflow.adapters.sqlite.rows import dump_json, padded
from optiflow.domain.errors import SkipError
from optiflow.domain.events import OrderFilled
from optiflow.domain.market import NO_IMBALANCE, BookTop, Candle
from optiflow.domain.records import builder
from optiflow.marketdata.loaders import CandleArrays
from optiflow.ports.exchange import OrderRequest, OrderUpdate, TradeFill

SIM_FILE = "sim_exchange.sqlite"
_book_top = builder(BookTop)  # BookTop(ts, bid, ask, imbalance) at half the cost
CHUNK = 1024  # closed candles built at once
KEEP_DONE = 16  # terminal orders kept for lookups (the last ones: what a restart asks for)
PARTIAL = "partial"  # unseen: the bot was told a part of the fill (computed from the order)


class RehearsalExchange(SimBooks):
    """Market data from candle arrays and a simulated order book, persisted on every change."""

    def __init__(
        self,
        sim: SimExchange,
        arrays: Mapping[str, CandleArrays],
        now_ms: Callable[[], int],
        path: Path | None = None,
    ) -> None:
        """Serve ``arrays`` (the bot's timeframe) up to ``now_ms``; persist to ``path``."""
        super().__init__(sim)
        self.arrays, self.now_ms = dict(arrays), now_ms
        self._ts: dict[str, list[int]] = {}  # candle open times per pair, as a list
        self._ohlcv: dict[str, Any] = {}  # per pair: open, high, low, close, volume side by side
        self._chunks: dict[str, tuple[int, list[Candle]]] = {}  # per pair: first row, candles
        self._texts: dict[int, str] = {}  # see ``_order_text``
        self._held: dict[int, OrderUpdate] = {}
        self._stop_dicts: dict[str, tuple[OrderRequest, dict[str, Any]]] = {}  # ``_stop_json``
        self.trading: set[str] = set()  # pairs with a trade in the current candle
        self.last_exit: tuple[str, float] | None = None  # (symbol, price) of the latest sell
        self.stops: dict[str, OrderRequest] = {}
        self.saved_at = -1  # market time of the last write (a restart: where the market stood)
        # orders whose latest change the bot was not told (faults): client id -> what it last
        # saw (an update, PARTIAL, or None: nothing); a restart is answered that (faults.py)
        self.unseen: dict[str, OrderUpdate | str | None] = {}
        # stop fills made by a fault at a request, at market time ``at``: (request key, at,
        # each filled stop as it stood before); a restart replaying that point answers the
        # requests made before that one as they were answered (faults.py)
        self.causes: list[tuple[str, int, dict[str, OrderUpdate]]] = []
        self.after_write: Callable[[], None] | None = None  # test hook (kill points)
        # called before the market itself changes the books (a waiting order or a stop
        # fills): the bot saves where it stands first, so a restart never finds the
        # exchange ahead of the point it resumes from
        self.before_change: Callable[[], None] | None = None
        self._db: sqlite3.Connection | None = None
        self._width = 0  # padded size of the books' text (``rows.padded``)
        if path is not None:
            self._db = open_file(path)
            self._load()
        self._new_fills: list[OrderFilled] = []

    # ---- the market, driven by the rehearsal ------------------------------------------
    def show(self, symbol: str, price: float, ts: int) -> None:
        """The market of ``symbol`` trades at ``price`` now: waiting market orders fill."""
        price = float(price)
        self.quotes[symbol] = BookTop(ts, price, price)
        self.sim.last_price[symbol] = price
        if self.sim.resting and any(
            o.symbol == symbol and o.limit is None for o in self.sim.resting.values()
        ):
            if self.before_change is not None:
                self.before_change()
            for res in self.sim.on_price(symbol, price, ts):
                self._settle(res)
            self._save()

    def show_all(self, symbols: list[str], prices: list[Any], k: int, ts: int) -> None:
        """``show`` of price ``k`` of each pair's ``prices`` (a rehearsal's point: one call)."""
        quotes, last = self.quotes, self.sim.last_price
        if self.sim.resting:
            for symbol, px in zip(symbols, prices, strict=True):
                self.show(symbol, px[k], ts)
            return
        nan = NO_IMBALANCE
        for symbol, px in zip(symbols, prices, strict=True):  # nothing waits: quotes move
            price = px[k]
            quotes[symbol] = _book_top(ts, price, price, nan)
            last[symbol] = price

    def tick_time(self, symbol: str) -> int:
        """When ``symbol`` last traded (its book's time), or -1."""
        book = self.quotes.get(symbol)
        return book.ts if book is not None else -1

    def fill_stop(self, symbol: str) -> bool:
        """Fault: the exchange stop of ``symbol`` fills now at its trigger; False if none."""
        return self.fill_stops([symbol]) > 0

    def fill_stops(self, symbols: list[str]) -> int:
        """Fault: the stops of ``symbols`` fill now at their triggers, in one write."""
        hit = [(c, r) for c, r in self.stops.items() if r.symbol in symbols and r.stop_price]
        if not hit:
            return 0
        if self.before_change is not None:
            self.before_change()
        for cid, req in hit:
            del self.stops[cid]
            res = self.sim._fill(  # noqa: SLF001 - the book's own fill at the trigger
                _resting(req), req.qty, float(req.stop_price or 0), self.now_ms(), False
            )
            self._settle(res)
        self._save()
        return len(hit)

    # ---- ExchangeGateway: market data (books and lookups: SimBooks) ---------------------
    async def fetch_closed_candles(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[Candle]:
        """Candles closed by now (open time + timeframe <= now), oldest first."""
        a = self.arrays.get(symbol)
        if a is None or limit <= 0:
            return []
        ts = self._ts.get(symbol)
        if ts is None:
            ts = self._ts[symbol] = a.ts.tolist()  # bisect on a list: no numpy call per ask
            cols = (a.open, a.high, a.low, a.close, a.volume)  # one row: one ``tolist``
            self._ohlcv[symbol] = np.column_stack(cols).astype(np.float64, copy=False)
        end = bisect_right(ts, self.now_ms() - a.timeframe_ms)
        start = 0 if since_ms is None else bisect_left(ts, since_ms, 0, end)
        if since_ms is None:
            start = max(0, end - limit)
        end = min(end, start + limit)
        if end <= start:
            return []
        rows = self._ohlcv[symbol]
        if end - start > CHUNK:  # the warm-up: every candle so far, once
            every = zip(ts[start:end], rows[start:end].tolist(), strict=True)
            return [Candle(t, *r) for t, r in every]
        chunk = self._chunks.get(symbol)
        if chunk is None or not chunk[0] <= start < end <= chunk[0] + len(chunk[1]):
            # the usual ask is the one candle that closed since the last: built by the
            # thousand (one ``tolist``), handed out as slices
            part = zip(ts[start : start + CHUNK], rows[start : start + CHUNK].tolist(), strict=True)
            chunk = self._chunks[symbol] = (start, [Candle(t, *r) for t, r in part])
        return chunk[1][start - chunk[0] : end - chunk[0]]

    # ---- ExchangeGateway: orders --------------------------------------------------------
    async def submit_order(self, order: OrderRequest) -> OrderUpdate:
        """Fill a market order as the backtest would; rest a stop; refuse other types."""
        self.calls += 1
        known = self._known(order)
        if known is not None:
            return known
        now = self.now_ms()
        xid = f"rh-{order.client_id}"
        if order.type in ("stop_loss_limit", "stop_market"):
            self.sim.seen_client_ids.add(order.client_id)
            self.stops[order.client_id] = order
            up = self._update(order, xid, "open", Decimal(0), None, Decimal(0), now)
        elif order.type != "market":
            raise SkipError(f"{order.type} orders are not simulated")
        elif order.symbol not in self.trading or order.symbol not in self.quotes:
            self.sim.submit_market(order.client_id, order.symbol, order.side, order.qty)
            up = self._update(order, xid, "open", Decimal(0), None, Decimal(0), now)
        else:
            res = self.sim.execute_now(
                order.client_id, order.symbol, order.side, order.qty, self._price(order), now
            )
            if not isinstance(res, OrderFilled):
                raise SkipError(f"{order.client_id}: {res.reason}")
            if order.side == "sell":
                self.last_exit = (order.symbol, self._price(order))
            self._new_fills.append(res)
            self._trade(res, xid)
            up = self._update(order, xid, "filled", res.qty, res.price, res.fee, now)
        self.orders[order.client_id] = up
        self._save()
        return up

    def _price(self, order: OrderRequest) -> float:
        """Where a market order fills before slippage (see the module docstring)."""
        book = self.quotes[order.symbol]
        if order.side == "sell":
            return order.ref_price if order.ref_price > 0 else book.bid
        if self.last_exit is not None and self.last_exit[0] == order.symbol:
            return self.last_exit[1]
        return book.ask

    async def cancel_order(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """Cancel an open order (a stop or a waiting market order); None when not open."""
        self.calls += 1
        up = self.orders.get(client_id)
        if up is None or up.state not in OPEN:
            return None
        self.stops.pop(client_id, None)
        self.sim.cancel(client_id)
        up = replace(up, state="cancelled", ts=self.now_ms())
        self.orders[client_id] = up
        self._save()
        return up

    async def fetch_balances(self) -> dict[str, Decimal]:
        """Free balance per asset: coins under an open stop are locked."""
        self.calls += 1
        free = dict(self.sim.balances)
        for req in self.stops.values():
            base = req.symbol.split("/")[0]
            free[base] = free.get(base, Decimal(0)) - req.qty
        return free

    async def close(self) -> None:
        """Close the exchange's file."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # ---- bookkeeping --------------------------------------------------------------------
    def _update(
        self,
        o: OrderRequest,
        xid: str,
        state: Any,
        filled: Decimal,
        avg: Decimal | None,
        fee: Decimal,
        ts: int,
    ) -> OrderUpdate:
        return OrderUpdate(o.client_id, xid, o.symbol, o.side, o.type, state, o.qty, filled, avg,
                           fee, ts)  # fmt: skip

    def _settle(self, res: SimResult) -> None:
        """A resting order (market order or stop) filled or was refused."""
        prev = self.orders.get(res.client_id)
        if prev is None:
            return
        if isinstance(res, OrderFilled):
            self._new_fills.append(res)
            self._trade(res, prev.exchange_id)
        self.orders[res.client_id] = settled(prev, res)

    def _trade(self, fill: OrderFilled, xid: str) -> None:
        self.trades.append(TradeFill(f"t-{fill.client_id}-{len(self.trades)}", fill.client_id,
                                     xid, fill.symbol, fill.side, fill.qty, fill.price, fill.fee,
                                     fill.ts))  # fmt: skip
        del self.trades[:-500]

    def ledger(self) -> list[OrderFilled]:
        """Every fill this exchange ever made (from its file when it has one)."""
        if self._db is None:
            return list(self.sim.ledger)
        rows = self._db.execute(
            "SELECT client_id, symbol, side, qty, price, fee, ts FROM ledger ORDER BY seq"
        ).fetchall()
        return [
            OrderFilled(c, s, sd, Decimal(q), Decimal(p), Decimal(f), int(ts))
            for c, s, sd, q, p, f, ts in rows
        ]

    def save(self) -> None:
        """Write the books now (a fault changed what the bot was told: ``unseen``)."""
        self._save()

    def _save(self) -> None:
        """Write the books and the new fills in one transaction (before answering)."""
        fills, self._new_fills = self._new_fills, []
        if self._db is None:
            return
        if len(self.orders) > KEEP_DONE:  # else nothing to forget
            done = [o for o in self.orders.values() if o.state not in OPEN]
            for old in done[:-KEEP_DONE]:
                del self.orders[old.client_id]
        state = {
            "balances": {k: str(v) for k, v in self.sim.balances.items()},
            "resting": [[o.client_id, o.symbol, o.side, str(o.qty), str(o.filled)]
                        for o in self.sim.resting.values() if o.limit is None],  # fmt: skip
            "stops": [self._stop_json(r) for r in self.stops.values()],
            "at": self.now_ms(),
            "last_exit": self.last_exit,
            "unseen": {c: up_json(u) if isinstance(u, OrderUpdate) else u
                       for c, u in self.unseen.items()},  # fmt: skip
        }
        if self.causes:
            state["causes"] = [
                [key, at, {c: up_json(u) for c, u in before.items()}]
                for key, at, before in self.causes
            ]
        # each order's JSON is kept while the order is unchanged (most are, at every write)
        held = list(self.orders.values())
        texts = list(map(self._texts.get, map(id, held)))  # no Python call per order
        i = -1
        for _ in range(texts.count(None)):  # usually the one order this write changed
            i = texts.index(None, i + 1)
            texts[i] = self._order_text(held[i])
        orders = ",".join(cast("list[str]", texts))
        text = f'{dump_json(state)[:-1]},"orders":[{orders}]}}'
        text, self._width = padded(text, self._width)  # same size: rewritten in place
        db = self._db
        if not fills:  # one statement: its own transaction (autocommit), as atomic
            db.execute(SAVE_BOOKS, (text,))
        else:
            db.execute("BEGIN")
            db.execute(SAVE_BOOKS, (text,))
            db.executemany(
                "INSERT INTO ledger (client_id, symbol, side, qty, price, fee, ts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(f.client_id, f.symbol, f.side, str(f.qty), str(f.price), str(f.fee), f.ts)
                 for f in fills],  # fmt: skip
            )
            db.execute("COMMIT")
        if self.after_write is not None:
            self.after_write()

    def _stop_json(self, r: OrderRequest) -> dict[str, Any]:
        """A resting stop as JSON values (kept while the stop rests; requests never change)."""
        hit = self._stop_dicts.get(r.client_id)
        if hit is None or hit[0] is not r:
            self._stop_dicts = {c: v for c, v in self._stop_dicts.items() if c in self.stops}
            hit = self._stop_dicts[r.client_id] = (r, req_json(r))
        return hit[1]

    def _order_text(self, o: OrderUpdate) -> str:
        """One order as JSON text, cached by the frozen update's id (held: no id reuse)."""
        if len(self._texts) > 2 * len(self.orders) + 64:
            now = {id(u) for u in self.orders.values()}
            self._held = {k: u for k, u in self._held.items() if k in now}
            self._texts = {k: t for k, t in self._texts.items() if k in now}
        text = self._texts[id(o)] = dump_json(up_json(o))
        self._held[id(o)] = o
        return text

    def _load(self) -> None:
        """Put the books back as the file holds them."""
        assert self._db is not None
        row = self._db.execute("SELECT v FROM state WHERE k = 'books'").fetchone()
        if row is None:
            return
        state = json.loads(row[0])
        self.sim.balances = {k: Decimal(v) for k, v in state["balances"].items()}
        self.sim.resting = {}
        for cid, sym, side, qty, filled in state["resting"]:
            self.sim.submit_market(cid, sym, side, Decimal(qty))
            self.sim.resting[cid].filled = Decimal(filled)
        self.orders = {o["client_id"]: up_from(o) for o in state["orders"]}
        self.stops = {r["client_id"]: req_from(r) for r in state["stops"]}
        self.sim.seen_client_ids |= set(self.orders) | set(self.stops)
        self.saved_at = int(state.get("at", -1))
        self.unseen = {
            c: up_from(u) if isinstance(u, dict) else u
            for c, u in state.get("unseen", {}).items()
        }
        self.causes = [
            (str(key), int(at), {c: up_from(u) for c, u in before.items()})
            for key, at, before in state.get("causes", [])
        ]
        ex = state.get("last_exit")
        self.last_exit = None if ex is None else (str(ex[0]), float(ex[1]))
        for f in self.ledger()[-500:]:
            self._trade(f, f"rh-{f.client_id}")


def _resting(req: OrderRequest) -> Any:
    from optiflow.adapters.sim.exchange import RestingOrder

    return RestingOrder(req.client_id, req.symbol, req.side, req.qty, None)
