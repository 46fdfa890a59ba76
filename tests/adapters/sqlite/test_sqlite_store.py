"""SQLite-only behaviour: reopening, migrations, foreign files, bot names and kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.memory.store import MEMORY_SCHEMA_VERSION
from optiflow.adapters.sqlite.migrations import APPLICATION_ID, SCHEMA_VERSION, apply_migration
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.errors import UserInputError
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow
from optiflow.ports.store import FillRow, OrderRow, StateBatch

SRC = Path(__file__).resolve().parents[3] / "src"


def pragmas(path: Path) -> tuple[int, int, str]:
    """application_id, user_version and journal_mode of a database file."""
    with sqlite3.connect(path) as conn:
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        ver = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    return int(app), int(ver), str(mode)


def test_new_database_is_wal_with_our_id_and_current_version(tmp_path: Path) -> None:
    """A fresh file gets WAL, the OptiFlow application id and the latest schema version."""
    path = tmp_path / "sub" / "bot.sqlite"
    SqliteStore(path, "A").close()
    assert pragmas(path) == (APPLICATION_ID, SCHEMA_VERSION, "wal")
    assert SCHEMA_VERSION >= 2 and MEMORY_SCHEMA_VERSION == SCHEMA_VERSION


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    """Everything committed before close is there after reopening."""
    path = tmp_path / "bot.sqlite"
    order = OrderRow(
        "c1",
        "p1",
        "BTC/USDT",
        "buy",
        "entry",
        Decimal("0.001"),
        Decimal("0"),
        "open",
        1.0,
        1,
        2,
        "X1",
    )
    fill = FillRow(
        "f1", "c1", "BTC/USDT", "buy", Decimal("0.001"), Decimal("1.10"), Decimal("0.0000011"), 3
    )
    ex = ExitRow(
        "A",
        "BTC/USDT",
        "p1",
        1,
        4,
        Decimal("1.10"),
        Decimal("1.20"),
        Decimal("0.001"),
        Decimal("0.01"),
        Decimal("0.09"),
        "tp1",
    )
    with SqliteStore(path, "A", durability="power") as store:
        store.commit(
            StateBatch(
                {"a": [1, "2"]},
                {"c": 1},
                (order,),
                (fill,),
                (ex,),
                (Notify("entry", "BTC/USDT", "hi", 1),),
            )
        )
    with SqliteStore(path, "A") as again:
        loaded = again.load()
        assert loaded is not None and loaded.snapshot == {"a": [1, "2"]}
        assert loaded.cursor == {"c": 1}
        assert again.orders() == [order] and again.fills() == [fill] and again.exits() == [ex]
        assert again.notes()[0].text == "hi"
        assert again.integrity_check() == "ok"


def test_a_v1_database_is_migrated(tmp_path: Path) -> None:
    """A database left at schema 1 is upgraded in place and keeps its rows."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migration(conn, 1)
    conn.execute("INSERT INTO meta VALUES ('bot', 'A')")
    conn.execute(
        "INSERT INTO orders VALUES ('c1','p1','BTC/USDT','buy','entry','0.5','0','open',2.0,1,1)"
    )
    conn.execute("INSERT INTO snapshot VALUES (1, '{\"v\": 1}', NULL, 7, 0)")
    conn.close()
    assert pragmas(path)[:2] == (APPLICATION_ID, 1)
    with SqliteStore(path, "A") as store:
        (row,) = store.orders(("open",))
        assert row.qty == Decimal("0.5") and row.exchange_id is None
        loaded = store.load()
        assert loaded is not None and loaded.snapshot == {"v": 1}
        assert loaded.schema_version == SCHEMA_VERSION and loaded.extra["commit_seq"] == 7
    assert pragmas(path)[:2] == (APPLICATION_ID, SCHEMA_VERSION)


def test_random_bytes_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A file that is not SQLite gives a UserInputError naming it, and is not modified."""
    path = tmp_path / "garbage.sqlite"
    data = random.Random(1).randbytes(8192)
    path.write_bytes(data)
    with pytest.raises(UserInputError, match=r"garbage\.sqlite.*not an OptiFlow"):
        SqliteStore(path, "A")
    assert path.read_bytes() == data


def test_foreign_application_id_is_refused(tmp_path: Path) -> None:
    """An SQLite file stamped by another application is refused with its id in the message."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA application_id = 1234")
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(UserInputError, match=r"other\.db.*application id 0x000004d2"):
        SqliteStore(path, "A")


def test_unknown_tables_without_an_id_are_refused(tmp_path: Path) -> None:
    """An SQLite file with someone's tables and no application id is not taken over."""
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    conn.close()
    with pytest.raises(UserInputError, match=r"app\.db.*tables: users"):
        SqliteStore(path, "A")
    assert pragmas(path)[0] == 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer OptiFlow says so instead of being misread."""
    path = tmp_path / "new.sqlite"
    SqliteStore(path, "A").close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(UserInputError, match=rf"version {SCHEMA_VERSION + 1} is newer"):
        SqliteStore(path, "A")


def test_another_bots_database_is_refused(tmp_path: Path) -> None:
    """Opening bot A's database as bot B is a UserInputError naming both."""
    path = tmp_path / "a.sqlite"
    SqliteStore(path, "A").close()
    with pytest.raises(UserInputError, match=r"belongs to bot 'A', not 'B'"):
        SqliteStore(path, "B")


def test_a_folder_path_is_refused(tmp_path: Path) -> None:
    """Pointing the store at a folder is a clear UserInputError."""
    with pytest.raises(UserInputError, match="is a folder"):
        SqliteStore(tmp_path, "A")


def test_notes_table_is_pruned_in_steps(tmp_path: Path) -> None:
    """The notes table never grows past its bound plus 10 %."""
    path = tmp_path / "n.sqlite"
    with SqliteStore(path, "A", max_notes=100) as store:
        for i in range(500):
            store.commit(StateBatch({}, notes=(Notify("k", "S", str(i), i),)))
    with sqlite3.connect(path) as conn:
        count = conn.execute("SELECT COUNT(*) FROM notes").fetchone()[0]
    conn.close()
    assert 100 <= count <= 110


def test_a_failed_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    """A batch that fails half-way is rolled back entirely."""

    class Boom:
        """A value whose text form cannot be produced."""

        def __str__(self) -> str:
            raise RuntimeError("boom")

    bad = FillRow("f2", "c1", "S", "buy", Boom(), Decimal(1), Decimal(0), 1)  # type: ignore[arg-type]
    with SqliteStore(tmp_path / "f.sqlite", "A") as store:
        store.commit(StateBatch({"n": 1}))
        with pytest.raises(RuntimeError):
            store.commit(StateBatch({"n": 2}, fills=(bad,)))
        loaded = store.load()
        assert loaded is not None and loaded.snapshot == {"n": 1} and store.fill_ids() == set()
        store.commit(StateBatch({"n": 3}))  # the store is still usable


WRITER = """
import sys
from decimal import Decimal
from pathlib import Path
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.ports.store import FillRow, OrderRow, StateBatch
store = SqliteStore(Path(sys.argv[1]), "K")
loaded = store.load()
n = 0 if loaded is None else loaded.snapshot["n"]
pad = "x" * 5000
while True:
    n += 1
    o = OrderRow(f"c{n}", "p", "BTC/USDT", "buy", "entry", Decimal("0.1"), Decimal("0"),
                 "open", 1.0, n, n)
    f = FillRow(f"f{n}", f"c{n}", "BTC/USDT", "buy", Decimal("0.1"), Decimal("1"),
                Decimal("0"), n)
    store.commit(StateBatch({"n": n, "pad": pad}, {"n": n}, (o,), (f,)))
    print(n, flush=True)
"""


def test_kill_9_loses_no_committed_batch(tmp_path: Path) -> None:
    """SIGKILL at random moments: every batch reported committed is there, whole and sound."""
    path = tmp_path / "kill.sqlite"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    rng = random.Random(42)
    last_printed = 0
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
        )
        assert proc.stdout is not None
        wanted = last_printed + rng.randint(1, 300)
        deadline = time.monotonic() + 20
        while last_printed < wanted and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last_printed = int(line)
        time.sleep(rng.random() * 0.02)  # land somewhere inside a later commit
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        with SqliteStore(path, "K") as store:
            assert store.integrity_check() == "ok"
            loaded = store.load()
            assert loaded is not None
            n = loaded.snapshot["n"]
            assert n >= last_printed and loaded.cursor == {"n": n}
            ids = store.fill_ids()
            assert ids == {f"f{i}" for i in range(1, n + 1)}  # every batch whole, none partial
            assert len(store.orders()) == n
        last_printed = n
    assert last_printed > 5


def test_commit_order_rows_are_json_free_text(tmp_path: Path) -> None:
    """Decimals sit in the file as plain TEXT (readable by any SQLite tool)."""
    path = tmp_path / "t.sqlite"
    with SqliteStore(path, "A") as store:
        store.commit(
            StateBatch(
                {"d": Decimal("1.50")},
                fills=(
                    FillRow(
                        "f", "c", "S", "buy", Decimal("1E-8"), Decimal("2.50"), Decimal("0"), 1
                    ),
                ),
            )
        )
    with sqlite3.connect(path) as conn:
        qty, typ = conn.execute("SELECT qty, typeof(qty) FROM fills").fetchone()
        state = conn.execute("SELECT state FROM snapshot").fetchone()[0]
    conn.close()
    assert (qty, typ) == ("1E-8", "text") and json.loads(state) == {"d": "1.50"}
