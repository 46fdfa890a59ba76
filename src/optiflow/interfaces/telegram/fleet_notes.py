"""The fleet supervisor's notes (``<state_root>/fleet.sqlite``) as one more outbox to deliver.

The supervisor appends restart/give-up/stuck/adopt/stop notes to its ``notes`` table; this
reader sends them like a bot's notes, under the header "fleet". Its cursor lives in the same
database, table ``readers``: one row per chat (``telegram:<chat id>``) plus ``telegram``, the
lowest of them (what the supervisor's pending-notes metric reads). A row is written in one
transaction right after each successful send, so a kill -9 repeats nothing and loses nothing.
A reader seen for the first time starts with the notes of the last ``FIRST_LOOK_MS``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from optiflow.domain.events import Notify
from optiflow.queries.view import StoredNote
from optiflow.supervisor.outbox import OUTBOX

READER = "telegram"
FIRST_LOOK_MS = 10 * 60_000
_READERS = "CREATE TABLE IF NOT EXISTS readers (name TEXT PRIMARY KEY, last_id INTEGER NOT NULL)"


class FleetCursor:
    """Per chat, the id of the last fleet note delivered (stored in ``fleet.sqlite``)."""

    def __init__(self, notes: FleetNotes, chats: dict[str, int]) -> None:
        """Cursor values read from the ``readers`` table."""
        self.notes, self.chats = notes, chats

    def get(self, chat: int) -> int:
        """The last id delivered to ``chat``."""
        return self.chats.get(str(chat), self.chats.get("*", 0))

    def save(self) -> None:
        """Write every chat's row and the ``telegram`` row (their minimum) in one transaction."""
        self.notes.write(self.chats)


class FleetNotes:
    """The supervisor's outbox of one state root, read and acknowledged by the service."""

    name = "fleet"

    def __init__(self, root: Path, chat_ids: tuple[int, ...]) -> None:
        """Nothing is opened until the supervisor has created ``fleet.sqlite``."""
        self.path = Path(root) / OUTBOX
        self.chat_ids = chat_ids
        self.cursor: FleetCursor | None = None

    def exists(self) -> bool:
        """True once the supervisor has written its outbox."""
        return self.path.is_file()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5, isolation_level=None)

    def load(self) -> FleetCursor:
        """The cursor (read once; a first-time reader starts ``FIRST_LOOK_MS`` back)."""
        if self.cursor is not None:
            return self.cursor
        conn = self._connect()
        try:
            conn.execute(_READERS)
            found = conn.execute("SELECT name, last_id FROM readers").fetchall()
            rows = {str(k): int(v) for k, v in found}
            if READER in rows:
                start = rows[READER]
            else:
                since = int(time.time() * 1000) - FIRST_LOOK_MS
                row = conn.execute("SELECT MAX(id) FROM notes WHERE ts < ?", (since,)).fetchone()
                start = int(row[0] or 0)
        finally:
            conn.close()
        chats = {str(c): rows.get(f"{READER}:{c}", start) for c in self.chat_ids}
        self.cursor = FleetCursor(self, chats | {"*": start})
        self.cursor.save()
        return self.cursor

    def read(self, after_id: int, limit: int) -> list[StoredNote]:
        """Notes above ``after_id``, oldest first."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT id, kind, symbol, text, ts FROM notes WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        finally:
            conn.close()
        return [
            StoredNote(int(i), Notify(str(k), str(s), str(t), int(ts))) for i, k, s, t, ts in rows
        ]

    def write(self, chats: dict[str, int]) -> None:
        """Store the cursor rows atomically."""
        per_chat = {k: v for k, v in chats.items() if k != "*"}
        low = min(per_chat.values(), default=chats.get("*", 0))
        conn = self._connect()
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                for chat, last in per_chat.items():
                    conn.execute(
                        "INSERT OR REPLACE INTO readers (name, last_id) VALUES (?, ?)",
                        (f"{READER}:{chat}", last),
                    )
                conn.execute(
                    "INSERT OR REPLACE INTO readers (name, last_id) VALUES (?, ?)", (READER, low)
                )
        finally:
            conn.close()
