"""SQL text and row codecs of the SQLite store: Decimals as exact TEXT, values as JSON."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

import orjson

from optiflow.domain.results import ExitRow, NearMiss, ShadowResult
from optiflow.ports.store import FillRow, OrderRow

NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
ORDER_COLS = (
    "client_id, position_id, symbol, side, reason, qty, filled, status, ref_price, "
    "ts_created, ts_updated, exchange_id"
)
UPSERT_ORDER = (
    f"INSERT INTO orders ({ORDER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (client_id) DO UPDATE SET position_id = excluded.position_id, "
    "symbol = excluded.symbol, side = excluded.side, reason = excluded.reason, "
    "qty = excluded.qty, filled = excluded.filled, status = excluded.status, "
    "ref_price = excluded.ref_price, ts_created = excluded.ts_created, "
    "ts_updated = excluded.ts_updated, exchange_id = excluded.exchange_id"
)
INSERT_FILL = (
    "INSERT OR IGNORE INTO fills (fill_id, client_id, symbol, side, qty, price, fee, ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
EXIT_COLS = (
    "bot, symbol, position_id, ts_entry, ts_exit, entry_price, exit_price, qty, fees, "
    "net_pnl, reason, signals"
)
INSERT_EXIT = f"INSERT INTO exits ({EXIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
UPSERT_SNAPSHOT = (
    "INSERT INTO snapshot (id, state, cursor, seq, ts_updated) "
    f"VALUES (1, ?, ?, 1, {NOW_MS}) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, "
    "cursor = COALESCE(excluded.cursor, snapshot.cursor), seq = snapshot.seq + 1, "
    "ts_updated = excluded.ts_updated"
)


def dump_json(value: Any) -> str:
    """Compact JSON text for the snapshot/cursor; Decimals (and other odd types) become str.

    Encoded with ``orjson`` (5x faster than ``json``); anything it would spell differently
    from ``json.dumps(default=str)`` goes through ``json`` instead: a type other than the
    JSON ones and ``Decimal`` (a dataclass, a datetime, a subclass of str/int/dict/list), a
    non-string key or an integer beyond 64 bits (``orjson`` refuses them), and a value
    holding a NaN or an infinity (``orjson`` writes them as ``null``; only a text holding
    ``null`` is searched for them: a ``None``, as in the rehearsal's cursor, is ``null`` in
    both). The texts differ only in
    spelling (non-ASCII as UTF-8, not ``\\u`` escapes; a float's exponent), which
    ``json.loads`` reads to the same value; and a plain ``Enum`` member becomes its value
    (``json`` wrote ``str(member)``; the snapshot stores ``.value`` itself).
    """
    try:
        out = orjson.dumps(value, default=_decimal, option=_STRICT)
    except TypeError:
        return _json_text(value)
    if b"null" in out and not _finite(value):  # a None is ``null`` in both: kept
        return _json_text(value)
    return out.decode()


def padded(text: str, width: int) -> tuple[str, int]:
    """`text` right-padded with spaces to `width` UTF-8 bytes, and the width to keep using.

    JSON readers skip trailing whitespace, so the value read back is the same. A row whose
    size does not change is overwritten in place by SQLite: an overflowing snapshot then
    rewrites only its pages that changed, instead of freeing its overflow chain and
    allocating a new one (the free-list page and the header page) on every commit. A text
    that no longer fits, or that would be more than half padding, picks a new width with
    an eighth (at least 256 bytes) of room, rounded up to 256.
    """
    size = len(text) if text.isascii() else len(text.encode())
    if size > width or size < width // 2:
        width = (size + max(256, size // 8) + 255) // 256 * 256
    return text + " " * (width - size), width


def _finite(value: Any) -> bool:
    """Whether no float in ``value`` is NaN or infinite (``orjson`` writes those ``null``)."""
    kind = type(value)
    if kind is float:
        return bool(value - value == 0.0)  # NaN and infinities give NaN
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return True
    for v in items:  # leaves checked here: no call per string or number
        kind = type(v)
        if kind is str or kind is int or v is None or kind is bool:
            continue
        if kind is float:
            if v - v != 0.0:
                return False
        elif not _finite(v):
            return False
    return True


_JSON_TEXT = json.JSONEncoder(separators=(",", ":"), default=str).encode  # built once


def _json_text(value: Any) -> str:
    return _JSON_TEXT(value)


def _decimal(value: Any) -> str:
    if type(value) is Decimal:
        return str(value)
    raise TypeError(type(value).__name__)  # encoded by ``json`` instead


_STRICT = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def order_params(o: OrderRow) -> tuple[object, ...]:
    """SQL parameters of one order row."""
    return (
        o.client_id,
        o.position_id,
        o.symbol,
        o.side,
        o.reason,
        str(o.qty),
        str(o.filled),
        o.status,
        o.ref_price,
        o.ts_created,
        o.ts_updated,
        o.exchange_id,
    )


def fill_params(f: FillRow) -> tuple[object, ...]:
    """SQL parameters of one fill row."""
    return (f.fill_id, f.client_id, f.symbol, f.side, str(f.qty), str(f.price), str(f.fee), f.ts)


SHADOW_COLS = "symbol, ts_signal, ts_exit, reasons, entry_price, qty, net_pnl, exit_reason"
INSERT_SHADOW = f"INSERT INTO shadows ({SHADOW_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def shadow_params(r: ShadowResult) -> tuple[object, ...]:
    """SQL parameters of one finished shadow (reasons comma-separated)."""
    return (
        r.symbol,
        r.ts_signal,
        r.ts_exit,
        ",".join(r.reasons),
        str(r.entry_price),
        str(r.qty),
        str(r.net_pnl),
        r.exit_reason,
    )


def exit_params(e: ExitRow) -> tuple[object, ...]:
    """SQL parameters of one exit row."""
    return (
        e.bot,
        e.symbol,
        e.position_id,
        e.ts_entry,
        e.ts_exit,
        str(e.entry_price),
        str(e.exit_price),
        str(e.qty),
        str(e.fees),
        str(e.net_pnl),
        e.reason,
        e.signals,
    )


def order_from(r: sqlite3.Row) -> OrderRow:
    """An order row read back."""
    return OrderRow(
        client_id=r["client_id"],
        position_id=r["position_id"],
        symbol=r["symbol"],
        side=r["side"],
        reason=r["reason"],
        qty=Decimal(r["qty"]),
        filled=Decimal(r["filled"]),
        status=r["status"],
        ref_price=float(r["ref_price"]),
        ts_created=int(r["ts_created"]),
        ts_updated=int(r["ts_updated"]),
        exchange_id=r["exchange_id"],
    )


def fill_from(r: sqlite3.Row) -> FillRow:
    """A fill row read back."""
    return FillRow(
        fill_id=r["fill_id"],
        client_id=r["client_id"],
        symbol=r["symbol"],
        side=r["side"],
        qty=Decimal(r["qty"]),
        price=Decimal(r["price"]),
        fee=Decimal(r["fee"]),
        ts=int(r["ts"]),
    )


def exit_from(r: sqlite3.Row) -> ExitRow:
    """An exit row read back."""
    return ExitRow(
        bot=r["bot"],
        symbol=r["symbol"],
        position_id=r["position_id"],
        ts_entry=int(r["ts_entry"]),
        ts_exit=int(r["ts_exit"]),
        entry_price=Decimal(r["entry_price"]),
        exit_price=Decimal(r["exit_price"]),
        qty=Decimal(r["qty"]),
        fees=Decimal(r["fees"]),
        net_pnl=Decimal(r["net_pnl"]),
        reason=r["reason"],
        signals=r["signals"],
    )


def near_miss_from(r: sqlite3.Row) -> NearMiss:
    """A near miss read back."""
    values = tuple((str(k), float(v)) for k, v in json.loads(r["vals"]))
    return NearMiss(
        ts=int(r["ts"]), symbol=r["symbol"], kind=r["kind"], reason=r["reason"], values=values
    )
