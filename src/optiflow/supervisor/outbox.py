"""The supervisor's note outbox: ``<state_root>/fleet.sqlite``, read by the Telegram service.

Schema (the same ``notes`` table as a bot's store, plus a reader cursor):

- ``notes(id INTEGER PRIMARY KEY, kind TEXT, symbol TEXT, text TEXT, ts INTEGER)``: one row
  per supervisor event; ``kind`` is ``restart``, ``giveup``, ``stuck``, ``adopt``,
  ``start`` or ``stop``; ``symbol`` is the bot name; ``ts`` is Unix milliseconds.
- ``readers(name TEXT PRIMARY KEY, last_id INTEGER)``: a reader (``telegram``) records the
  last note id it delivered; notes above the lowest cursor are "pending" in the metrics.

WAL mode, so the Telegram service can read while the supervisor writes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from optiflow.domain.events import Notify

OUTBOX = "fleet.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, "
    "symbol TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS readers (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)",
)
MAX_NOTES = 10_000


class Outbox:
    """Append-only notes of the supervisor (kept to the latest ``MAX_NOTES``)."""

    def __init__(self, root: Path) -> None:
        """Open (creating) ``<root>/fleet.sqlite``."""
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / OUTBOX
        self._conn = sqlite3.connect(self.path, timeout=5, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        for stmt in _SCHEMA:
            self._conn.execute(stmt)

    def add(self, kind: str, bot: str, text: str) -> Notify:
        """Record one note now; returns it."""
        note = Notify(kind, bot, text, int(time.time() * 1000))
        with contextlib.suppress(sqlite3.Error):  # a full disk must not stop supervision
            self._conn.execute(
                "INSERT INTO notes (kind, symbol, text, ts) VALUES (?, ?, ?, ?)",
                (note.kind, note.symbol, note.text, note.ts),
            )
            self._conn.execute(
                "DELETE FROM notes WHERE id <= (SELECT MAX(id) FROM notes) - ?", (MAX_NOTES,)
            )
        return note

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


def read_notes(root: Path, limit: int = 1000) -> list[Notify]:
    """The latest notes of the fleet at `root`, oldest first ([] without an outbox)."""
    path = root / OUTBOX
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "SELECT kind, symbol, text, ts FROM notes ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    finally:
        conn.close()
    return [Notify(k, s, t, ts) for k, s, t, ts in reversed(rows)]


def pending_notes(root: Path) -> int:
    """Notes no reader has delivered yet (all of them when no reader registered)."""
    path = root / OUTBOX
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        low = conn.execute("SELECT MIN(last_id) FROM readers").fetchone()[0] or 0
        return int(conn.execute("SELECT COUNT(*) FROM notes WHERE id > ?", (low,)).fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        conn.close()
