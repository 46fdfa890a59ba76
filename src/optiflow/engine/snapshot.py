"""The engine's full state as plain JSON-able data, and back: what crash recovery restores."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from operator import is_
from typing import Any

from optiflow.domain.market import MarketLimits
from optiflow.engine.bot import Bot
from optiflow.engine.settings import EngineSettings
from optiflow.engine.shadows import FilterOutcome, Shadow, ShadowBook, ShadowResult
from optiflow.execution.orders import OrderRecord, OrderStatus
from optiflow.portfolio.position import Levels, Position
from optiflow.portfolio.stats import SymbolCounters

SNAPSHOT_VERSION = 1


def _levels(lv: Levels) -> dict[str, Any]:
    return {
        "sl": lv.sl,
        "breakeven": lv.breakeven,
        "tp1": lv.tp1,
        "tp2": lv.tp2,
        "steps": list(lv.steps),
        "auto_profit": lv.auto_profit,
        "timeout_threshold": lv.timeout_threshold,
        "timeout_at": lv.timeout_at,
        "max_hold_at": lv.max_hold_at,
    }


def position_to_dict(p: Position) -> dict[str, Any]:
    """A position as JSON-able data (Decimals as strings, floats exact)."""
    return {
        "position_id": p.position_id,
        "symbol": p.symbol,
        "ts_entry": p.ts_entry,
        "entry_price": str(p.entry_price),
        "qty0": str(p.qty0),
        "qty": str(p.qty),
        "entry_fee": str(p.entry_fee),
        "levels": _levels(p.levels),
        "pending_exit": str(p.pending_exit),
        "tp1_hit": p.tp1_hit,
        "steps_fired": list(p.steps_fired),
        "stop": p.stop,
        "stop_is_breakeven": p.stop_is_breakeven,
        "signals": p.signals,
    }


def position_from_dict(d: Mapping[str, Any]) -> Position:
    """Inverse of ``position_to_dict``."""
    lv = d["levels"]
    return Position(
        position_id=d["position_id"],
        symbol=d["symbol"],
        ts_entry=int(d["ts_entry"]),
        entry_price=Decimal(d["entry_price"]),
        qty0=Decimal(d["qty0"]),
        qty=Decimal(d["qty"]),
        entry_fee=Decimal(d["entry_fee"]),
        levels=Levels(
            sl=lv["sl"],
            breakeven=lv["breakeven"],
            tp1=lv["tp1"],
            tp2=lv["tp2"],
            steps=tuple(lv["steps"]),
            auto_profit=lv["auto_profit"],
            timeout_threshold=lv["timeout_threshold"],
            timeout_at=lv["timeout_at"],
            max_hold_at=lv["max_hold_at"],
        ),
        pending_exit=Decimal(d["pending_exit"]),
        tp1_hit=bool(d["tp1_hit"]),
        steps_fired=tuple(bool(x) for x in d["steps_fired"]),
        stop=float(d["stop"]),
        stop_is_breakeven=bool(d["stop_is_breakeven"]),
        signals=str(d.get("signals", "")),
    )


def order_to_dict(o: OrderRecord) -> dict[str, Any]:
    """An order record as JSON-able data."""
    return {
        "client_id": o.client_id,
        "position_id": o.position_id,
        "symbol": o.symbol,
        "side": o.side,
        "reason": o.reason,
        "qty": str(o.qty),
        "filled": str(o.filled),
        "status": o.status.value,
        "reserved": str(o.reserved),
        "signals": o.signals,
    }


def order_from_dict(d: Mapping[str, Any]) -> OrderRecord:
    """Inverse of ``order_to_dict``."""
    return OrderRecord(
        client_id=d["client_id"],
        position_id=d["position_id"],
        symbol=d["symbol"],
        side=d["side"],
        reason=d["reason"],
        qty=Decimal(d["qty"]),
        filled=Decimal(d["filled"]),
        status=OrderStatus(d["status"]),
        reserved=Decimal(d["reserved"]),
        signals=str(d.get("signals", "")),
    )


def to_snapshot(bot: Bot, memo: TopMemo | None = None) -> dict[str, Any]:
    """Everything needed to continue exactly where the bot is (exit rows live in the store).

    ``memo`` (the caller's, kept from one snapshot to the next): see ``shadows_to_dict``;
    with ``memo.open_exits`` only open positions' exit numbers are kept (``open_exit_seq``).
    """
    snap = {
        "version": SNAPSHOT_VERSION,
        "bot": bot.s.name,
        "cash": str(bot.cash),
        "reserved": str(bot.reserved),
        "seq": bot.seq,
        "positions_opened": bot.positions_opened,
        "positions": [_pos_dict(p, memo) for p in bot.positions.values()],
        "entry_orders": dict(bot.entry_orders),
        "orders": [_order_dict(o, memo) for o in bot.orders.values()],
        "exit_seq": open_exit_seq(bot) if memo and memo.open_exits else dict(bot.exit_seq),
        "last_trade": dict(bot.last_trade),
        "rate_entries": list(bot.rate.entries),
        "blacklist_recent": {k: list(v) for k, v in bot.blacklist.recent.items()},
        "blacklist_until": dict(bot.blacklist.paused_until),
        "exit_block": {k: list(v) for k, v in bot.exit_block.items()},
        "counters": {
            sym: {
                "candles": c.candles,
                "primary": c.primary,
                "confirming": c.confirming,
                "passes_1plus1": c.passes_1plus1,
                "entries": c.entries,
                "near_miss_one_group": c.near_miss_one_group,
                "near_miss_filter": c.near_miss_filter,
                "rejections": dict(c.rejections),
            }
            for sym, c in bot.counters.items()
        },
        **({} if bot.shadows is None else {"shadows": shadows_to_dict(bot.shadows, memo)}),
    }
    if memo is not None:
        memo.rotate()
    return snap


def _pos_dict(p: Position, memo: TopMemo | None) -> dict[str, Any]:
    return position_to_dict(p) if memo is None else memo.position(p)


def _order_dict(o: OrderRecord, memo: TopMemo | None) -> dict[str, Any]:
    return order_to_dict(o) if memo is None else memo.order(o)


def open_exit_seq(bot: Bot) -> dict[str, int]:
    """``exit_seq`` of the positions still open or with orders (closed ones never issue again).

    For a store that is never repaired by exit numbers (``adapters.sqlite.repair`` reads them
    for replays only); a snapshot with every position ever grows with every trade.
    """
    seq = bot.exit_seq
    live = [p.position_id for p in bot.positions.values()]
    live += [o.position_id for o in bot.orders.values()]
    return {k: seq[k] for k in sorted(set(live)) if k in seq}


def from_snapshot(
    settings: EngineSettings, limits: Mapping[str, MarketLimits], snap: Mapping[str, Any]
) -> Bot:
    """A bot in exactly the state of the snapshot."""
    if snap.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"unsupported engine snapshot version {snap.get('version')!r}")
    bot = Bot(settings, limits)
    bot.cash = Decimal(snap["cash"])
    bot.reserved = Decimal(snap["reserved"])
    bot.seq = int(snap["seq"])
    bot.positions_opened = int(snap["positions_opened"])
    for d in snap["positions"]:
        p = position_from_dict(d)
        bot.positions[p.symbol] = p
    bot.entry_orders = dict(snap["entry_orders"])
    bot.orders = {d["client_id"]: order_from_dict(d) for d in snap["orders"]}
    bot.exit_seq = {k: int(v) for k, v in snap["exit_seq"].items()}
    bot.last_trade = {k: int(v) for k, v in snap["last_trade"].items()}
    bot.rate.entries = deque(int(x) for x in snap["rate_entries"])
    bot.blacklist.recent = {
        k: deque(int(x) for x in v) for k, v in snap["blacklist_recent"].items()
    }
    bot.blacklist.paused_until = {k: int(v) for k, v in snap["blacklist_until"].items()}
    bot.exit_block = {k: (int(v[0]), int(v[1])) for k, v in snap.get("exit_block", {}).items()}
    for sym, c in snap["counters"].items():
        if sym in bot.counters:
            bot.counters[sym] = SymbolCounters(
                candles=c["candles"],
                primary=c["primary"],
                confirming=c["confirming"],
                passes_1plus1=c["passes_1plus1"],
                entries=c["entries"],
                near_miss_one_group=c["near_miss_one_group"],
                near_miss_filter=c["near_miss_filter"],
                rejections=dict(c["rejections"]),
            )
    if bot.shadows is not None and "shadows" in snap:
        shadows_restore(bot.shadows, snap["shadows"])
    return bot


def result_to_dict(r: ShadowResult) -> dict[str, Any]:
    """A finished shadow as JSON-able data."""
    return {
        "symbol": r.symbol,
        "ts_signal": r.ts_signal,
        "ts_exit": r.ts_exit,
        "reasons": list(r.reasons),
        "entry_price": str(r.entry_price),
        "qty": str(r.qty),
        "net_pnl": str(r.net_pnl),
        "exit_reason": r.exit_reason,
        "exits": [[x, str(q), str(px)] for x, q, px in r.exits],
    }


def result_from_dict(d: Mapping[str, Any]) -> ShadowResult:
    """Inverse of ``result_to_dict``."""
    return ShadowResult(
        symbol=d["symbol"],
        ts_signal=int(d["ts_signal"]),
        ts_exit=int(d["ts_exit"]),
        reasons=tuple(d["reasons"]),
        entry_price=Decimal(d["entry_price"]),
        qty=Decimal(d["qty"]),
        net_pnl=Decimal(d["net_pnl"]),
        exit_reason=d["exit_reason"],
        exits=tuple((x, Decimal(q), Decimal(px)) for x, q, px in d.get("exits", [])),
    )


# a shadow, its position, PnL, reasons, exit count and last exit, and its data
_ShadowHit = tuple[Shadow, Position, Decimal, tuple[str, ...], int, Any, dict[str, Any]]


class TopMemo:
    """The top winners', positions', orders' and open shadows' data of the last snapshot,
    reused while the same objects.

    A caller taking many snapshots of one bot (the live runtime commits several times per
    order) keeps one; results, positions (real and shadow) and order records are frozen, so
    the same objects give the same data, and an open shadow is the same while its parts are
    (treat the data as read-only).
    """

    def __init__(self, open_exits: bool = False) -> None:
        """Nothing remembered yet; ``open_exits``: see ``to_snapshot``."""
        self.open_exits = open_exits
        self.results: list[ShadowResult] = []
        self.data: list[dict[str, Any]] = []
        # id -> (position or order record, its data)
        self._pos: dict[int, tuple[Position | OrderRecord, dict[str, Any]]] = {}
        self._used: dict[int, tuple[Position | OrderRecord, dict[str, Any]]] = {}
        # id -> the shadow with what it held and its data (``shadow``)
        self._open: dict[int, _ShadowHit] = {}
        self._open_used: dict[int, _ShadowHit] = {}

    def position(self, p: Position) -> dict[str, Any]:
        """``position_to_dict(p)``, the last snapshot's when ``p`` is the same object."""
        return self._same(p, position_to_dict)

    def order(self, o: OrderRecord) -> dict[str, Any]:
        """``order_to_dict(o)``, the last snapshot's when ``o`` is the same (frozen) object."""
        return self._same(o, order_to_dict)

    def _same(self, x: Any, to_dict: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        hit = self._pos.get(id(x))
        if hit is None or hit[0] is not x:
            hit = (x, to_dict(x))
        self._used[id(x)] = hit
        return hit[1]

    def shadow(self, sh: Shadow) -> dict[str, Any]:
        """``shadow_to_dict(sh)``, the last snapshot's while ``sh`` holds what it held then.

        A shadow changes by a new (frozen) position, a new (immutable) PnL, or an exit
        appended to its list; its reasons are an immutable tuple. Compared by identity.
        """
        exits = sh.exits
        n = len(exits)
        last = exits[-1] if n else None
        hit = self._open.get(id(sh))
        if (
            hit is None
            or hit[0] is not sh
            or hit[1] is not sh.pos
            or hit[2] is not sh.pnl
            or hit[3] is not sh.reasons
            or hit[4] != n
            or hit[5] is not last
        ):
            hit = (sh, sh.pos, sh.pnl, sh.reasons, n, last, shadow_to_dict(sh, self))
        self._open_used[id(sh)] = hit
        return hit[6]

    def rotate(self) -> None:
        """A snapshot is done: remember only the positions and shadows it held (no stale ids)."""
        self._pos, self._used = self._used, {}
        self._open, self._open_used = self._open_used, {}

    def top(self, results: list[ShadowResult]) -> list[dict[str, Any]]:
        """``result_to_dict`` of each result (fresh dicts for a list that changed)."""
        held = self.results
        if len(held) != len(results) or not all(map(is_, held, results)):  # same objects
            self.results, self.data = list(results), [result_to_dict(r) for r in results]
        return list(self.data)


def shadows_to_dict(book: ShadowBook, memo: TopMemo | None = None) -> dict[str, Any]:
    """Open shadows, the per-filter tally, the top winners and signals not applied yet.

    With ``memo``, the top winners' dicts are those of the last snapshot when the results
    are the same objects (treat the returned data as read-only).
    """
    return {
        "seq": book.seq,
        "open": [
            shadow_to_dict(sh) if memo is None else memo.shadow(sh) for sh in book.open.values()
        ],
        "outcomes": {
            r: [o.blocked, o.wins, o.losses, str(o.net_pnl)] for r, o in book.outcomes.items()
        },
        "top": [result_to_dict(r) for r in book.top] if memo is None else memo.top(book.top),
        "pending": [[n, s, list(rs), str(k), p] for n, s, rs, k, p in book.pending_signals()],
    }


def shadow_to_dict(sh: Shadow, memo: TopMemo | None = None) -> dict[str, Any]:
    """An open shadow as JSON-able data."""
    return {
        "pos": _pos_dict(sh.pos, memo),
        "reasons": list(sh.reasons),
        "pnl": str(sh.pnl),
        "exits": [[x, str(q), str(px)] for x, q, px in sh.exits],
    }


def shadows_restore(book: ShadowBook, d: Mapping[str, Any]) -> None:
    """Put a book back in the state ``shadows_to_dict`` saved."""
    book.seq = int(d["seq"])
    for o in d["open"]:
        pos = position_from_dict(o["pos"])
        exits = [(x, Decimal(q), Decimal(px)) for x, q, px in o["exits"]]
        book.open[pos.symbol] = Shadow(pos, tuple(o["reasons"]), Decimal(o["pnl"]), exits)
    book.outcomes = {
        r: FilterOutcome(int(v[0]), int(v[1]), int(v[2]), Decimal(v[3]))
        for r, v in d["outcomes"].items()
    }
    book.top = [result_from_dict(r) for r in d["top"]]
    book.pending = [
        (int(n), s, tuple(rs), Decimal(k), float(p)) for n, s, rs, k, p in d.get("pending", [])
    ]
