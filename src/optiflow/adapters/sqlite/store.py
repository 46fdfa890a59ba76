"""The bot's durable memory in one SQLite file (WAL): snapshot, orders, fills, exits, notes.

Durability: ``durability="process"`` (default) runs WAL with ``synchronous=NORMAL``: once
``commit`` returns, a kill -9 of the process cannot lose the batch, but a power loss or OS
crash may lose the last transactions (never corrupt the file). ``durability="power"`` uses
``synchronous=FULL`` (an fsync of the WAL on every commit) to survive power loss too.
``durability="rehearsal"`` (rehearsals only) runs ``synchronous=OFF``: a kill -9 still loses
nothing committed (the WAL is in the OS's hands once ``commit`` returns); only a power loss
or OS crash may lose or damage the file, and a rehearsal can simply be run again.

Encoding: Decimals are stored as TEXT with ``str()`` and read back exactly; the snapshot and
cursor are JSON text written by ``rows.dump_json`` (orjson, read as ``json.dumps(default=str)``
wrote it: a Decimal left in them comes back as a string); near-miss values are a JSON list
of ``[name, float]`` pairs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Literal

from optiflow.adapters.sqlite.commit_seq import SeqFile
from optiflow.adapters.sqlite.migrations import (
    SCHEMA_VERSION,
    check_ownership,
    corrupt_error,
    is_corruption,
    migrate,
)
from optiflow.adapters.sqlite.repair import find_problems
from optiflow.adapters.sqlite.repair import repair as repair_store
from optiflow.adapters.sqlite.rows import (
    EXIT_COLS,
    INSERT_EXIT,
    INSERT_FILL,
    INSERT_SHADOW,
    ORDER_COLS,
    UPSERT_ORDER,
    UPSERT_SNAPSHOT,
    dump_json,
    exit_from,
    exit_params,
    fill_from,
    fill_params,
    near_miss_from,
    order_from,
    order_params,
    padded,
    shadow_params,
)
from optiflow.domain.errors import StoreUnavailable, UserInputError
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow, NearMiss
from optiflow.ports.store import FillRow, OrderRow, StateBatch, StoredState

log = logging.getLogger("optiflow.store")
Durability = Literal["process", "power", "rehearsal"]
# The page size of a new state file: 4 KiB (SQLite's usual default, pinned so another
# build's default cannot change it). Measured replaying a week of preset A's 3,218 rehearsal
# commits (valgrind, user-space instructions a commit; WAL frames a commit): 1 KiB 481k,
# 17.7; 2 KiB 465k, 11.7; 4 KiB 475k, 8.5; 8 KiB 501k, 7.0; 16 KiB 559k, 5.9; 32 KiB 671k,
# 5.7. Larger pages write fewer frames but more bytes and cost more; smaller ones save ~2 %
# of instructions for ~40 % more pwrite calls; CPU time (noisy) showed no winner. Live and
# paper commits are the same kind. An existing file keeps the page size it was made with:
# in WAL mode only a VACUUM changes it, and a user's file never gets one from us.
PAGE_SIZE = 4096


def _connect(path: Path) -> sqlite3.Connection:
    """Open the file in autocommit mode (we issue BEGIN/COMMIT ourselves)."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    except sqlite3.Error as exc:
        raise UserInputError(f"{path}: cannot open the state database ({exc})") from exc
    conn.row_factory = sqlite3.Row
    return conn


class SqliteStore:
    """The `Store` port on one SQLite file per bot; safe to share between threads."""

    def __init__(
        self,
        path: Path,
        bot_name: str,
        *,
        durability: Durability = "process",
        max_notes: int = 10_000,
        max_near_misses: int = 1_000,
        seq_path: Path | None = None,
    ) -> None:
        """Open (creating or migrating) the bot's database; raise UserInputError if not ours.

        With `seq_path` the number of the latest commit is also kept in that small file,
        outside the WAL: a database found behind it lost committed transactions (a
        truncated or deleted WAL) and is refused instead of silently rolled back.
        """
        self.path = Path(path)
        self.bot_name = bot_name
        self.max_notes = max_notes
        self.max_near_misses = max_near_misses
        self._lock = threading.Lock()
        self._closed = False
        if self.path.is_dir():
            raise UserInputError(f"{self.path}: is a folder, expected a state database file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = _connect(self.path)
        try:
            self._open(durability)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if is_corruption(exc):
                raise corrupt_error(self.path, exc) from None
            raise
        except BaseException:
            self._conn.close()
            raise
        self._since_checkpoint = 0
        self._seq = SeqFile(seq_path, self.path) if seq_path is not None else None
        if self._seq is not None:
            try:
                self._seq.check(self._db_seq())
            except BaseException:
                self._conn.close()
                raise
        self._widths = [0, 0]  # padded sizes of the snapshot and cursor texts
        # Rows beyond the bound are pruned once this many extra ones have accumulated.
        self._counts = {
            "notes": self._count("notes"),
            "near_misses": self._count("near_misses"),
        }

    def _open(self, durability: Durability) -> None:
        """Check ownership, set the pragmas, migrate and check the bot name."""
        check_ownership(self._conn, self.path)  # before any write to a foreign file
        # a NEW file's page size, set before WAL mode and the first table make the file
        # (``PAGE_SIZE`` says why 4 KiB); on an existing file it changes nothing
        self._conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise UserInputError(f"{self.path}: cannot switch the database to WAL mode ({mode})")
        sync = {"power": "FULL", "rehearsal": "OFF"}.get(durability, "NORMAL")
        self._conn.execute(f"PRAGMA synchronous = {sync}")
        self._conn.execute("PRAGMA busy_timeout = 10000")
        # no automatic checkpoint inside a commit (its fsync would land on the order path);
        # the runtime calls ``checkpoint`` between cycles
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self.schema_version = migrate(self._conn, self.path)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'bot'").fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('bot', ?)", (self.bot_name,)
                )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        if row is not None and row[0] != self.bot_name:
            raise UserInputError(
                f"{self.path}: this state database belongs to bot {row[0]!r}, "
                f"not {self.bot_name!r}; give each bot its own state file"
            )

    def _db_seq(self) -> int:
        """The commit sequence the database holds (0 before the first commit)."""
        row = self._conn.execute("SELECT seq FROM snapshot WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    def _count(self, table: str) -> int:
        """Number of rows in one of the bounded tables."""
        return int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def _prune(self, table: str, keep: int) -> None:
        """Delete all but the newest `keep` rows once the table is 10 % over its bound."""
        slack = max(1, keep // 10)
        if self._counts[table] <= keep + slack:
            return
        self._conn.execute(
            f"DELETE FROM {table} WHERE id <= "
            f"(SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (keep,),
        )
        self._counts[table] = min(self._counts[table], keep)

    def load(self) -> StoredState | None:
        """The latest committed snapshot and cursor, or None for a new bot."""
        with self._lock:
            row = self._conn.execute(
                "SELECT state, cursor, seq, ts_updated FROM snapshot WHERE id = 1"
            ).fetchone()
        if row is None:
            return None
        cursor = None if row["cursor"] is None else json.loads(row["cursor"])
        return StoredState(
            snapshot=json.loads(row["state"]),
            cursor=cursor,
            schema_version=self.schema_version,
            extra={
                "commit_seq": int(row["seq"]),
                "ts_updated": int(row["ts_updated"]),
                "bot": self.bot_name,
            },
        )

    def commit(self, batch: StateBatch) -> None:
        """Write the batch in ONE IMMEDIATE transaction; a cursor of None keeps the old one."""
        if self._since_checkpoint >= 1000:  # safety net if no runtime calls checkpoint()
            self.checkpoint()
        # same-size rows are overwritten in place (see ``rows.padded``)
        state, self._widths[0] = padded(dump_json(batch.snapshot), self._widths[0])
        cursor = None
        if batch.cursor is not None:
            cursor, self._widths[1] = padded(dump_json(batch.cursor), self._widths[1])
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(UPSERT_SNAPSHOT, (state, cursor))
                if batch.orders:
                    conn.executemany(UPSERT_ORDER, [order_params(o) for o in batch.orders])
                if batch.fills:
                    conn.executemany(INSERT_FILL, [fill_params(f) for f in batch.fills])
                if batch.exits:
                    conn.executemany(INSERT_EXIT, [exit_params(e) for e in batch.exits])
                if batch.notes:
                    conn.executemany(
                        "INSERT INTO notes (kind, symbol, text, ts) VALUES (?, ?, ?, ?)",
                        [(n.kind, n.symbol, n.text, n.ts) for n in batch.notes],
                    )
                    self._counts["notes"] += len(batch.notes)
                    self._prune("notes", self.max_notes)
                if batch.near_misses:
                    conn.executemany(
                        "INSERT INTO near_misses (ts, symbol, kind, reason, vals) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [
                            (m.ts, m.symbol, m.kind, m.reason, dump_json(m.values))
                            for m in batch.near_misses
                        ],
                    )
                    self._counts["near_misses"] += len(batch.near_misses)
                    self._prune("near_misses", self.max_near_misses)
                if batch.shadows:
                    conn.executemany(INSERT_SHADOW, [shadow_params(r) for r in batch.shadows])
                conn.execute("COMMIT")
                self._since_checkpoint += 1
                if self._seq is not None:
                    self._seq.committed()  # never raises: the database stays the truth
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                # The counters may be off after a rollback; re-read them.
                with contextlib.suppress(sqlite3.Error):
                    self._counts = {t: self._count(t) for t in self._counts}
                if isinstance(exc, (sqlite3.OperationalError, OSError)):
                    raise StoreUnavailable(f"{self.path}: {exc}") from exc
                raise

    def orders(self, statuses: tuple[str, ...] | None = None) -> list[OrderRow]:
        """Orders, optionally only those in the given statuses, oldest first."""
        sql = f"SELECT {ORDER_COLS} FROM orders"
        params: tuple[str, ...] = ()
        if statuses is not None:
            if not statuses:
                return []
            sql += f" WHERE status IN ({', '.join('?' * len(statuses))})"
            params = tuple(statuses)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts_created, rowid", params).fetchall()
        return [order_from(r) for r in rows]

    def fill_ids(self) -> set[str]:
        """Ids of every fill already applied (to never apply one twice)."""
        with self._lock:
            rows = self._conn.execute("SELECT fill_id FROM fills").fetchall()
        return {str(r[0]) for r in rows}

    def fills(self, client_id: str | None = None) -> list[FillRow]:
        """Fills, optionally of one order only, oldest first (not part of the port)."""
        sql = "SELECT * FROM fills"
        params: tuple[str, ...] = ()
        if client_id is not None:
            sql, params = sql + " WHERE client_id = ?", (client_id,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts, rowid", params).fetchall()
        return [fill_from(r) for r in rows]

    def exits(self, since_ts: int | None = None) -> list[ExitRow]:
        """Closed-trade rows with ``ts_exit >= since_ts``, oldest first (by exit time)."""
        sql = f"SELECT {EXIT_COLS} FROM exits"
        params: tuple[int, ...] = ()
        if since_ts is not None:
            sql, params = sql + " WHERE ts_exit >= ?", (since_ts,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY ts_exit, id", params).fetchall()
        return [exit_from(r) for r in rows]

    def notes(self, limit: int = 100) -> list[Notify]:
        """The latest `limit` notes (at most ``max_notes``), oldest first."""
        limit = max(0, min(limit, self.max_notes))
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, symbol, text, ts FROM notes ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Notify(kind=r[0], symbol=r[1], text=r[2], ts=int(r[3])) for r in reversed(rows)]

    def near_misses(self, limit: int = 50) -> list[NearMiss]:
        """The latest `limit` near misses (at most ``max_near_misses``), oldest first."""
        limit = max(0, min(limit, self.max_near_misses))
        with self._lock:
            rows = self._conn.execute(
                "SELECT ts, symbol, kind, reason, vals FROM near_misses ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [near_miss_from(r) for r in reversed(rows)]

    def checkpoint(self) -> None:
        """Move the WAL into the database file (call it off the hot path, e.g. per cycle).

        A checkpoint that cannot run (disk full) is skipped: the WAL stays valid and the
        next commit reports a store that cannot write.
        """
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.OperationalError as exc:
                log.warning("%s: WAL checkpoint skipped (%s)", self.path, exc)
            self._since_checkpoint = 0

    def problems(self) -> list[str]:
        """What two writers left behind (duplicates, replay rows past the snapshot)."""
        with self._lock:
            return find_problems(self._conn)

    def repair(self) -> list[str]:
        """Remove what ``problems`` reports, in one transaction; say what was done."""
        with self._lock:
            return repair_store(self._conn)

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` verdict ("ok" when healthy)."""
        with self._lock:
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def close(self) -> None:
        """Checkpoint the WAL and release the database; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.execute("PRAGMA optimize")
            finally:
                self._conn.close()
                if self._seq is not None:
                    self._seq.close()

    def __enter__(self) -> SqliteStore:
        """Use the store as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on leaving the block."""
        self.close()


__all__ = ["SCHEMA_VERSION", "Durability", "SqliteStore", "dump_json"]
