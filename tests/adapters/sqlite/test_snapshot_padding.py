"""Snapshot texts padded to a steady size: read back unchanged, rewritten in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from optiflow.adapters.sqlite.rows import padded
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.ports.store import StateBatch
from optiflow.queries.view import BotView


def big(i: int, extra: int = 0) -> dict[str, Any]:
    """An ~9 KB snapshot (it overflows a 4 KB page) whose tail changes with `i`."""
    return {
        "rows": [{"k": n, "v": "x" * 40} for n in range(150 + extra)],
        "ñame": "bot-é",
        "seq": i,
        "tail": "y" * (i % 7),
    }


def test_padded_texts_read_back_as_committed_through_growth_and_shrinking(
    tmp_path: Path,
) -> None:
    """Every load (store and read-only view) returns exactly the snapshot and cursor committed."""
    sizes = [0, 0, 5, 60, 60, 61, 2, 0, 200, 1, 1]
    with SqliteStore(tmp_path / "bot.sqlite", "A") as store:
        for i, extra in enumerate(sizes):
            snap, cursor = big(i, extra), {"ts": i, "pad": "z" * extra}
            store.commit(StateBatch(snap, cursor=cursor))
            loaded = store.load()
            assert loaded is not None and (loaded.snapshot, loaded.cursor) == (snap, cursor)
            assert BotView(tmp_path).snapshot() == (snap, cursor)
        store.commit(StateBatch({"n": 1}))  # no cursor: the last one is kept
        loaded = store.load()
        assert loaded is not None and loaded.snapshot == {"n": 1}
        assert loaded.cursor == {"ts": 10, "pad": "z"}


def test_a_steady_snapshot_rewrites_only_its_changed_page(tmp_path: Path) -> None:
    """Commits of an overflowing snapshot changing at its end append ~1 WAL page each."""
    path = tmp_path / "bot.sqlite"
    commits = 40
    with SqliteStore(path, "A") as store:
        store.commit(StateBatch(big(0)))
        store.checkpoint()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.close()
        for i in range(1, commits + 1):
            store.commit(StateBatch(big(i)))
        frames = (Path(f"{path}-wal").stat().st_size - 32) // (24 + page)
        loaded = store.load()
        assert loaded is not None and loaded.snapshot == big(commits)
    # without padding each commit also frees and reallocates the overflow chain: >= 4 pages
    assert frames <= 2 * commits


def test_padded_width_is_kept_while_the_text_fits() -> None:
    """The width grows with room to spare, holds while the text fits, shrinks when half empty."""
    text, width = padded("a" * 1000, 0)
    assert width == 1280 and text == "a" * 1000 + " " * 280
    assert padded("b" * 1200, width) == ("b" * 1200 + " " * 80, 1280)
    assert padded("é" * 600, width)[1] == 1280  # UTF-8 bytes, not characters
    assert padded("c" * 1281, width)[1] == 1792
    assert padded("d" * 500, width)[1] == 768
