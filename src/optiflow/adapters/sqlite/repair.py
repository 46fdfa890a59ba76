"""Find and undo what two processes writing one state database leave behind.

Two writers leave (a) the same exit or fill recorded twice and (b) in a replay, order rows
newer than the saved engine state (one process was ahead of the snapshot that won), whose
client ids the resumed replay then submits again ("duplicate client order id").

An order is newer than the snapshot when its client id (``<position>-e`` for an entry,
``<position>-<n><code>`` for the n-th exit) was not yet issued by the saved engine: its
position number is above the engine's ``seq`` or its exit number above ``exit_seq``.
Repair deletes duplicates, and in a replay the rows newer than the snapshot (the resumed
replay redoes them identically); a live store's orders are never deleted.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

EXIT_KEY = "bot, symbol, position_id, ts_entry, ts_exit, entry_price, exit_price, qty, reason"
FILL_KEY = "client_id, symbol, side, qty, price, fee, ts"


def _snapshot(conn: sqlite3.Connection) -> tuple[dict[str, Any], dict[str, Any]] | None:
    row = conn.execute("SELECT state, cursor FROM snapshot WHERE id = 1").fetchone()
    if row is None:
        return None
    return json.loads(row[0]), json.loads(row[1]) if row[1] else {}


def is_replay(snapshot: dict[str, Any], cursor: dict[str, Any]) -> bool:
    """A replay's store: a simulated exchange and a candle-time cursor (live has neither)."""
    return "sim" in snapshot and "iso" in cursor and "stops" not in snapshot


def issued(client_id: str, seq: int, exit_seq: dict[str, int]) -> bool:
    """True when the saved engine (position counter, exit counters) had issued `client_id`."""
    pid, _, suffix = client_id.rpartition("-")
    try:
        number = int(pid.rpartition("-")[2])
    except ValueError:
        return True  # not an engine id (exchange stop, foreign): never called newer
    if number > seq:
        return False
    if suffix == "e":
        return True
    digits = ""
    for ch in suffix:
        if not ch.isdigit():
            break
        digits += ch
    return not digits or int(digits) <= exit_seq.get(pid, 0)


def newer_orders(conn: sqlite3.Connection) -> list[str]:
    """Client ids of a replay's order rows the saved engine state never issued."""
    snap = _snapshot(conn)
    if snap is None or not is_replay(*snap):
        return []
    bot = snap[0].get("bot", {})
    seq = int(bot.get("seq", 0))
    exit_seq = {str(k): int(v) for k, v in bot.get("exit_seq", {}).items()}
    rows = conn.execute("SELECT client_id FROM orders").fetchall()
    return [str(r[0]) for r in rows if not issued(str(r[0]), seq, exit_seq)]


def _duplicates(conn: sqlite3.Connection, table: str, key: str, rowid: str) -> int:
    """Rows of `table` equal on `key` to an older row."""
    return int(
        conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {rowid} NOT IN "
            f"(SELECT MIN({rowid}) FROM {table} GROUP BY {key})"
        ).fetchone()[0]
    )


def find_problems(conn: sqlite3.Connection) -> list[str]:
    """What is wrong, one phrase each (empty when the store is consistent)."""
    out = []
    ahead = newer_orders(conn)
    if ahead:
        out.append(f"{len(ahead)} order row(s) newer than the saved engine state")
    exits = _duplicates(conn, "exits", EXIT_KEY, "id")
    if exits:
        out.append(f"{exits} duplicate exit row(s)")
    fills = _duplicates(conn, "fills", FILL_KEY, "rowid")
    if fills:
        out.append(f"{fills} duplicate fill row(s)")
    return out


def repair(conn: sqlite3.Connection) -> list[str]:
    """Undo duplicates (and a replay's rows newer than its snapshot) in ONE transaction."""
    done: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        ahead = newer_orders(conn)
        if ahead:
            marks = ", ".join("?" * len(ahead))
            positions = conn.execute(
                f"SELECT DISTINCT position_id FROM orders WHERE client_id IN ({marks})", ahead
            ).fetchall()
            n_fills = conn.execute(f"DELETE FROM fills WHERE client_id IN ({marks})", ahead)
            conn.execute(f"DELETE FROM orders WHERE client_id IN ({marks})", ahead)
            # an exit row of those positions without a remaining sell fill came from them
            n_exits = 0
            for (pid,) in positions:
                n_exits += conn.execute(
                    "DELETE FROM exits WHERE position_id = ? AND NOT EXISTS (SELECT 1 FROM "
                    "fills f JOIN orders o ON o.client_id = f.client_id WHERE o.position_id "
                    "= exits.position_id AND o.side = 'sell' AND f.ts = exits.ts_exit "
                    "AND f.qty = exits.qty)",
                    (pid,),
                ).rowcount
            done.append(
                f"removed {len(ahead)} order row(s), {n_fills.rowcount} fill(s) and {n_exits} "
                "exit row(s) newer than the saved engine state (the replay redoes them)"
            )
        for table, key, rowid in (("exits", EXIT_KEY, "id"), ("fills", FILL_KEY, "rowid")):
            cur = conn.execute(
                f"DELETE FROM {table} WHERE {rowid} NOT IN "
                f"(SELECT MIN({rowid}) FROM {table} GROUP BY {key})"
            )
            if cur.rowcount:
                done.append(f"removed {cur.rowcount} duplicate {table[:-1]} row(s)")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done
