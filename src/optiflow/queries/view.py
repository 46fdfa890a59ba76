"""BotView: one bot's state folder opened for reading (store read-only, state files, logs)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from optiflow.adapters.sqlite.rows import EXIT_COLS, exit_from, near_miss_from
from optiflow.config.models import BotConfig
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow, NearMiss

DB_FILE = "bot.sqlite"
CONFIG_FILE = "config.json"
MONITORING_FILE = "debug_monitoring_summary.json"


@dataclass(frozen=True, slots=True)
class StoredNote:
    """One row of the notes table (the outbox) with its id."""

    id: int
    note: Notify


class BotView:
    """Read-only access to one bot's store, state files and logs."""

    def __init__(self, state_dir: Path, cfg: BotConfig | None = None) -> None:
        """Open nothing yet; ``cfg`` defaults to the ``config.json`` the bot left there."""
        self.state_dir = Path(state_dir)
        self.cfg = cfg if cfg is not None else read_config(self.state_dir)
        self.name = self.cfg.name if self.cfg is not None else self._stored_name()

    @property
    def db_path(self) -> Path:
        """The bot's database file."""
        return self.state_dir / DB_FILE

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the store (UserInputError when there is none)."""
        if not self.db_path.is_file():
            raise UserInputError(f"{self.state_dir}: no bot state here (no {DB_FILE})")
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5.0)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def _stored_name(self) -> str:
        """The bot name recorded in the store, else the folder's name."""
        try:
            with self.connect() as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'bot'").fetchone()
        except (sqlite3.Error, UserInputError):
            row = None
        return str(row[0]) if row is not None else self.state_dir.name

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The latest committed (snapshot, cursor); empty dicts before the first commit."""
        with self.connect() as conn:
            row = conn.execute("SELECT state, cursor FROM snapshot WHERE id = 1").fetchone()
        if row is None:
            return {}, {}
        cursor = json.loads(row["cursor"]) if row["cursor"] else {}
        return json.loads(row["state"]), cursor

    def exits(self) -> list[ExitRow]:
        """Every closed-trade row, oldest first."""
        with self.connect() as conn:
            return _exits(conn)

    def snapshot_and_exits(self) -> tuple[dict[str, Any], dict[str, Any], list[ExitRow]]:
        """(snapshot, cursor, exit rows) of one commit, read in one transaction."""
        with self.connect() as conn:
            conn.execute("BEGIN")
            row = conn.execute("SELECT state, cursor FROM snapshot WHERE id = 1").fetchone()
            exits = _exits(conn)
            conn.execute("COMMIT")
        if row is None:
            return {}, {}, exits
        cursor = json.loads(row["cursor"]) if row["cursor"] else {}
        return json.loads(row["state"]), cursor, exits

    def near_misses(self, limit: int = 1000) -> list[NearMiss]:
        """The latest near misses, oldest first."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT ts, symbol, kind, reason, vals FROM near_misses ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [near_miss_from(r) for r in reversed(rows)]

    def notes(self, after_id: int = 0, limit: int = 10_000) -> list[StoredNote]:
        """Notes with an id above ``after_id``, oldest first."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT id, kind, symbol, text, ts FROM notes WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [
            StoredNote(int(r[0]), Notify(str(r[1]), str(r[2]), str(r[3]), int(r[4]))) for r in rows
        ]

    def outbox(self, after_id: int, limit: int) -> tuple[int, list[StoredNote]]:
        """(id of the newest note, notes above ``after_id``) read in one transaction."""
        with self.connect() as conn:
            conn.execute("BEGIN")
            newest = int(conn.execute("SELECT MAX(id) FROM notes").fetchone()[0] or 0)
            rows = conn.execute(
                "SELECT id, kind, symbol, text, ts FROM notes WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
            conn.execute("COMMIT")
        notes = [
            StoredNote(int(r[0]), Notify(str(r[1]), str(r[2]), str(r[3]), int(r[4]))) for r in rows
        ]
        return newest, notes

    def monitoring(self) -> dict[str, Any]:
        """The bot's ``debug_monitoring_summary.json`` (empty when missing or unreadable)."""
        try:
            data = json.loads((self.state_dir / MONITORING_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def now_ms(self) -> int:
        """The bot's own time: the cursor of its last commit (replay time in a replay)."""
        _, cursor = self.snapshot()
        ts = cursor.get("ts")
        return int(ts) if isinstance(ts, int) and ts >= 0 else int(time.time() * 1000)

    def fee_rate(self) -> Decimal:
        """The taker fee as a fraction (0.001 when the config is unknown)."""
        pct = self.cfg.costs.taker_fee_pct if self.cfg is not None else 0.1
        return Decimal(repr(pct)) / 100

    def log_file(self) -> Path:
        """The bot's main log file."""
        return self.state_dir / "logs" / self.name / "bot.log"


def _exits(conn: sqlite3.Connection) -> list[ExitRow]:
    """Every exit row, oldest first ("" signals in a store from before schema v3)."""
    have = {str(r[1]) for r in conn.execute("PRAGMA table_info(exits)")}
    cols = EXIT_COLS if "signals" in have else EXIT_COLS.replace("signals", "'' AS signals")
    rows = conn.execute(f"SELECT {cols} FROM exits ORDER BY ts_exit, id").fetchall()
    return [exit_from(r) for r in rows]


def read_config(state_dir: Path) -> BotConfig | None:
    """The config a bot saved in its state folder at start, or None."""
    try:
        return BotConfig.model_validate_json((state_dir / CONFIG_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def bot_dirs(state_root: Path) -> list[Path]:
    """Every bot state folder directly under ``state_root`` (those holding a store), sorted."""
    if not state_root.is_dir():
        raise UserInputError(f"--state-root {state_root}: no such folder")
    return sorted(p for p in state_root.iterdir() if (p / DB_FILE).is_file())
