"""State files' page size: a new file gets the chosen one, an existing file keeps its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from optiflow.adapters.sqlite.migrations import migrate
from optiflow.adapters.sqlite.store import PAGE_SIZE, SqliteStore
from optiflow.ports.store import StateBatch


def page_size(path: Path) -> int:
    """The page size of the database at `path`, read by a connection of its own."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_a_new_state_file_gets_the_chosen_page_size(tmp_path: Path) -> None:
    """A store made from nothing is written in PAGE_SIZE pages (4 KiB), WAL frames too."""
    path = tmp_path / "bot.sqlite"
    with SqliteStore(path, "A", durability="rehearsal") as store:
        store.commit(StateBatch({"n": 1, "pad": "x" * 9000}, cursor={"ts": 1}))
        assert PAGE_SIZE == 4096 and page_size(path) == PAGE_SIZE
        wal = path.with_name(path.name + "-wal").stat().st_size
        assert (wal - 32) % (PAGE_SIZE + 24) == 0  # whole frames of 4 KiB pages
    assert page_size(path) == PAGE_SIZE


@pytest.mark.parametrize("old_size", [1024, 8192])
def test_an_existing_file_of_another_page_size_opens_and_works_unchanged(
    tmp_path: Path, old_size: int
) -> None:
    """A file made with other pages (and the schema) is used as it is, never converted."""
    path = tmp_path / "bot.sqlite"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(f"PRAGMA page_size = {old_size}")
    raw.execute("PRAGMA journal_mode = WAL")
    migrate(raw, path)
    raw.close()
    snap = {"n": 2, "pad": "y" * 9000}
    with SqliteStore(path, "A") as store:
        assert page_size(path) == old_size
        store.commit(StateBatch({"n": 1}, cursor={"ts": 1}))
        store.commit(StateBatch(snap, cursor={"ts": 2}))
    with SqliteStore(path, "A") as store:
        loaded = store.load()
        assert loaded is not None and (loaded.snapshot, loaded.cursor) == (snap, {"ts": 2})
        store.checkpoint()
    assert page_size(path) == old_size
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
