"""The SQLite store's schema: numbered migrations, ownership checks and version upgrades."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from optiflow.domain.errors import UserInputError

# "OpFl" as a big-endian 32-bit integer; stored in the database header (PRAGMA application_id).
APPLICATION_ID = 0x4F70466C

# Migration i (1-based) is MIGRATIONS[i - 1]: statements applied in ONE transaction, after
# which PRAGMA user_version = i. Append new migrations; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: the tables.
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE snapshot (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            state TEXT NOT NULL,
            cursor TEXT,
            seq INTEGER NOT NULL,
            ts_updated INTEGER NOT NULL
        )""",
        """CREATE TABLE orders (
            client_id TEXT PRIMARY KEY,
            position_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            reason TEXT NOT NULL,
            qty TEXT NOT NULL,
            filled TEXT NOT NULL,
            status TEXT NOT NULL,
            ref_price REAL NOT NULL,
            ts_created INTEGER NOT NULL,
            ts_updated INTEGER NOT NULL
        )""",
        """CREATE TABLE fills (
            fill_id TEXT PRIMARY KEY,
            client_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            qty TEXT NOT NULL,
            price TEXT NOT NULL,
            fee TEXT NOT NULL,
            ts INTEGER NOT NULL
        )""",
        """CREATE TABLE exits (
            id INTEGER PRIMARY KEY,
            bot TEXT NOT NULL,
            symbol TEXT NOT NULL,
            position_id TEXT NOT NULL,
            ts_entry INTEGER NOT NULL,
            ts_exit INTEGER NOT NULL,
            entry_price TEXT NOT NULL,
            exit_price TEXT NOT NULL,
            qty TEXT NOT NULL,
            fees TEXT NOT NULL,
            net_pnl TEXT NOT NULL,
            reason TEXT NOT NULL
        )""",
        """CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            symbol TEXT NOT NULL,
            text TEXT NOT NULL,
            ts INTEGER NOT NULL
        )""",
        """CREATE TABLE near_misses (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            vals TEXT NOT NULL
        )""",
    ),
    # v2: the exchange's order id, and the indexes the queries use.
    (
        "ALTER TABLE orders ADD COLUMN exchange_id TEXT",
        "CREATE INDEX orders_status ON orders (status)",
        "CREATE INDEX fills_client ON fills (client_id)",
        "CREATE INDEX exits_ts_exit ON exits (ts_exit)",
    ),
    # v3: finished shadow outcomes of blocked signals (what they would have made).
    (
        """CREATE TABLE shadows (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            ts_signal INTEGER NOT NULL,
            ts_exit INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            entry_price TEXT NOT NULL,
            qty TEXT NOT NULL,
            net_pnl TEXT NOT NULL,
            exit_reason TEXT NOT NULL
        )""",
    ),
    # v4: each closed trade's signal combination ("p1,p2+c1"; "" for older trades).
    ("ALTER TABLE exits ADD COLUMN signals TEXT NOT NULL DEFAULT ''",),
)

SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = frozenset(
    {"meta", "snapshot", "orders", "fills", "exits", "notes", "near_misses", "shadows"}
)


def _tables(conn: sqlite3.Connection) -> set[str]:
    """Names of the user tables in the database."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _pragma_int(conn: sqlite3.Connection, name: str) -> int:
    """Read an integer pragma (application_id, user_version)."""
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


SQLITE_HEADER = b"SQLite format 3\x00"
CORRUPT_HINTS = ("malformed", "not a database", "corrupt")


def is_corruption(exc: BaseException) -> bool:
    """True when an sqlite3 error says the file itself is damaged (not busy, not full)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(
        h in str(exc).lower() for h in CORRUPT_HINTS
    )


def corrupt_error(path: Path, exc: BaseException) -> UserInputError:
    """One clear line for a damaged (or foreign, non-SQLite) database file."""
    try:
        with path.open("rb") as fh:
            sqlite_file = fh.read(16) == SQLITE_HEADER
    except OSError:
        sqlite_file = False
    what = (
        "the state database is corrupt"
        if sqlite_file
        else "corrupt or not an OptiFlow state database (no SQLite header)"
    )
    return UserInputError(
        f"{path}: {what} ({exc}); restore it from a backup, or move it away "
        "(or run `optiflow state reset`) to start the bot over"
    )


def check_ownership(conn: sqlite3.Connection, path: Path) -> int:
    """Return the schema version of an OptiFlow database (0 = empty); raise if it is not ours."""
    try:
        app_id = _pragma_int(conn, "application_id")
        version = _pragma_int(conn, "user_version")
        tables = _tables(conn)
    except sqlite3.DatabaseError as exc:
        raise corrupt_error(path, exc) from None
    if app_id == 0:
        if tables:
            found = ", ".join(sorted(tables)[:5])
            raise UserInputError(
                f"{path}: not an OptiFlow state database (an SQLite database without the "
                f"OptiFlow application id, holding tables: {found}); "
                "move it away or point the bot at another state folder"
            )
        return 0
    if app_id != APPLICATION_ID:
        raise UserInputError(
            f"{path}: not an OptiFlow state database (SQLite application id "
            f"{app_id:#010x}, expected {APPLICATION_ID:#010x})"
        )
    if version > SCHEMA_VERSION:
        raise UserInputError(
            f"{path}: state database schema version {version} is newer than this OptiFlow "
            f"supports ({SCHEMA_VERSION}); upgrade OptiFlow or use a copy made by this version"
        )
    return version


def apply_migration(conn: sqlite3.Connection, version: int) -> None:
    """Apply migration `version` (1-based) in its own IMMEDIATE transaction, if still needed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the write lock.
        if _pragma_int(conn, "user_version") >= version:
            conn.execute("ROLLBACK")
            return
        for statement in MIGRATIONS[version - 1]:
            conn.execute(statement)
        if version == 1:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, path: Path, target: int = SCHEMA_VERSION) -> int:
    """Bring an OptiFlow (or empty) database up to `target`; return the version reached."""
    version = check_ownership(conn, path)
    for step in range(version + 1, target + 1):
        apply_migration(conn, step)
    return max(version, target)
