"""Issue 7, bugs 7 and 2: the commit sequence outside the WAL, "corrupt", and store repair."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.sqlite.commit_seq import read_seq
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.errors import UserInputError
from optiflow.domain.results import ExitRow
from optiflow.ports.store import FillRow, OrderRow, StateBatch

P1, P2 = "x-000001", "x-000002"


def order(cid: str, pid: str, side: str = "sell") -> OrderRow:
    """A filled order row."""
    return OrderRow(cid, pid, "BTC/USDT", side, "tp1", Decimal(1), Decimal(1), "filled", 1.0, 5, 5)


def fill(cid: str, ts: int) -> FillRow:
    """A fill of one unit at 101."""
    return FillRow(f"{cid}#1", cid, "BTC/USDT", "sell", Decimal(1), Decimal(101), Decimal(0), ts)


def exit_row(pid: str, ts: int) -> ExitRow:
    """The exit row of one unit sold at 101."""
    return ExitRow(
        "A",
        "BTC/USDT",
        pid,
        1,
        ts,
        Decimal(100),
        Decimal(101),
        Decimal(1),
        Decimal(0),
        Decimal(1),
        "tp1",
    )


def snapshot(seq: int, exit_seq: dict[str, int]) -> dict[str, object]:
    """A replay snapshot whose engine issued `seq` positions and these exits."""
    return {"bot": {"seq": seq, "exit_seq": exit_seq}, "sim": {}}


CURSOR = {"ts": 10, "iso": "1970-01-01T00:00:00.010Z"}


def test_commit_seq_follows_every_commit_and_a_store_behind_it_is_refused(tmp_path: Path) -> None:
    """commit_seq holds the latest commit; a database restored to an older copy is refused."""
    db, seq = tmp_path / "bot.sqlite", tmp_path / "commit_seq"
    store = SqliteStore(db, "A", seq_path=seq)
    store.commit(StateBatch({"n": 1}))
    store.close()
    shutil.copy(db, tmp_path / "old.sqlite")
    store = SqliteStore(db, "A", seq_path=seq)
    for n in range(2, 5):
        store.commit(StateBatch({"n": n}))
        assert read_seq(seq) == n
    store.close()
    shutil.copy(tmp_path / "old.sqlite", db)
    with pytest.raises(UserInputError, match=r"went backwards: seq 1 < recorded 4"):
        SqliteStore(db, "A", seq_path=seq)
    assert read_seq(seq) == 4  # the refusal does not overwrite the evidence
    SqliteStore(db, "A").close()  # a reader without the sequence (state show) still opens it


def test_damaged_pages_say_corrupt(tmp_path: Path) -> None:
    """An SQLite file whose schema page is garbage is reported as corrupt, with its path."""
    db = tmp_path / "bot.sqlite"
    store = SqliteStore(db, "A")
    store.commit(StateBatch({"n": 1}, exits=(exit_row(P1, 7),)))
    store.close()
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    db.write_bytes(bytes(data))
    with pytest.raises(UserInputError, match=r"bot\.sqlite: the state database is corrupt"):
        SqliteStore(db, "A")


def test_repair_removes_what_two_writers_left(tmp_path: Path) -> None:
    """Orders the snapshot never issued, their fills and exits, and duplicate exits go."""
    db = tmp_path / "bot.sqlite"
    store = SqliteStore(db, "A")
    buy = order(f"{P1}-e", P1, "buy")
    store.commit(
        StateBatch(
            snapshot(1, {P1: 1}),
            CURSOR,
            orders=(
                buy,
                order(f"{P1}-1t1", P1),
                order(f"{P1}-2t2", P1),
                order(f"{P2}-e", P2),
                order(f"{P1}-stop-p1", P1),
            ),
            fills=(fill(f"{P1}-1t1", 7), fill(f"{P1}-2t2", 9)),
            exits=(exit_row(P1, 7), exit_row(P1, 7), exit_row(P1, 9)),
        )
    )
    problems = store.problems()
    assert problems == [
        "2 order row(s) newer than the saved engine state",
        "1 duplicate exit row(s)",
    ]
    done = store.repair()
    assert len(done) == 2 and "removed 2 order row(s), 1 fill(s) and 1 exit row(s)" in done[0]
    assert store.problems() == []
    assert sorted(o.client_id for o in store.orders()) == [f"{P1}-1t1", f"{P1}-e", f"{P1}-stop-p1"]
    assert [e.ts_exit for e in store.exits()] == [7]
    assert [f.fill_id for f in store.fills()] == [f"{P1}-1t1#1"]
    store.close()


def test_live_store_orders_are_never_deleted(tmp_path: Path) -> None:
    """A live store (no simulated exchange): only exact duplicates are removed."""
    db = tmp_path / "bot.sqlite"
    store = SqliteStore(db, "A")
    store.commit(
        StateBatch(
            {"bot": {"seq": 0, "exit_seq": {}}, "stops": {}},
            {"ts": 10},
            orders=(order(f"{P2}-e", P2, "buy"),),
            exits=(exit_row(P1, 7), exit_row(P1, 7)),
        )
    )
    assert store.problems() == ["1 duplicate exit row(s)"]
    store.repair()
    assert len(store.orders()) == 1 and len(store.exits()) == 1
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
