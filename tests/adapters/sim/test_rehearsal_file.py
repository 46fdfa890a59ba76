"""The rehearsal exchange's file: books read back as written, rewritten in place, private."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.sim.exchange import SimExchange
from optiflow.adapters.sim.rehearsal import RehearsalExchange
from optiflow.ports.exchange import OrderUpdate


def exchange(path: Path) -> RehearsalExchange:
    """A rehearsal exchange on ``path`` with no candles (its books only)."""
    sim = SimExchange(Decimal("0.001"), Decimal("0.0005"), {}, {"USDT": Decimal(1000)})
    return RehearsalExchange(sim, {}, lambda: 1_700_000_000_000, path)


def order(i: int, ts: int = 0) -> OrderUpdate:
    """A filled order with a ~250-byte JSON text."""
    return OrderUpdate(
        f"cid-{i:04d}", f"rh-cid-{i:04d}", "BTC/USDT", "buy", "market", "filled",
        Decimal("0.00123"), Decimal("0.00123"), Decimal("27123.45"), Decimal("0.0334"), ts,
    )  # fmt: skip


def test_books_read_back_as_written_and_steady_writes_rewrite_in_place(tmp_path: Path) -> None:
    """40 writes of ~5 KB books (one order changing) add ~1 WAL page each; reopen reads them."""
    path = tmp_path / "sim_exchange.sqlite"
    ex = exchange(path)
    ex.orders = {o.client_id: o for o in (order(i) for i in range(20))}
    ex.save()
    assert ex._db is not None
    ex._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = int(ex._db.execute("PRAGMA page_size").fetchone()[0])
    writes = 40
    for i in range(1, writes + 1):
        ex.orders["cid-0007"] = replace(ex.orders["cid-0007"], ts=i)
        ex.save()
    frames = (Path(f"{path}-wal").stat().st_size - 32) // (24 + page)
    expected = dict(ex.orders)
    ex._db.close()
    ex._db = None
    # in place: its one changed page a write (INSERT OR REPLACE deleted and re-inserted the
    # row, its overflow chain freed and re-allocated: 2 pages a write here)
    assert frames <= writes + writes // 4, frames
    again = exchange(path)
    assert again.orders == expected and again.orders["cid-0007"].ts == writes
    assert again._db is not None
    again._db.close()


def test_the_file_is_held_exclusively_while_the_rehearsal_runs(tmp_path: Path) -> None:
    """No other connection reads the exchange's file while it is open (it is private)."""
    path = tmp_path / "sim_exchange.sqlite"
    ex = exchange(path)
    ex.orders = {"cid-0001": order(1)}
    ex.save()
    other = sqlite3.connect(path, timeout=0.1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("SELECT v FROM state").fetchall()
    other.close()
    assert ex._db is not None
    ex._db.close()
    ex._db = None
    reader = sqlite3.connect(path)  # closed (or killed): readable again, nothing lost
    assert reader.execute("SELECT COUNT(*) FROM state").fetchone()[0] == 1
    reader.close()


def test_written_orders_follow_every_change_never_a_stale_cached_text(tmp_path: Path) -> None:
    """300 writes replacing, adding and forgetting orders: each written text is the orders' now."""
    import json

    from optiflow.adapters.sim.rehearsal_file import up_json

    ex = exchange(tmp_path / "sim_exchange.sqlite")
    assert ex._db is not None
    ex.orders = {o.client_id: o for o in (order(i) for i in range(10))}
    for i in range(1, 301):
        cid = f"cid-{i % 13:04d}"
        if i % 7 == 0:
            ex.orders.pop(cid, None)  # forgotten: its object may be freed, its id reused
        else:  # a new object each time (same client id, other values)
            ex.orders[cid] = replace(order(i % 13, ts=i), filled=Decimal(i) / 1000)
        ex.save()
        text = ex._db.execute("SELECT v FROM state WHERE k = 'books'").fetchone()[0]
        written = json.loads(text)["orders"]
        assert written == [json.loads(json.dumps(up_json(o), default=str))
                           for o in ex.orders.values()], i  # fmt: skip
    ex._db.close()
    ex._db = None


def test_a_new_exchange_file_gets_the_chosen_page_size_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    """A new file is made in PAGE_SIZE pages; a file made with 8 KiB pages stays so and works."""
    import asyncio

    from optiflow.adapters.sim.rehearsal_file import PAGE_SIZE, tables

    def size(path: Path) -> int:
        """The file's page size, read by a connection of its own."""
        conn = sqlite3.connect(path)
        try:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])
        finally:
            conn.close()

    new = tmp_path / "new" / "sim_exchange.sqlite"
    new.parent.mkdir()
    ex = exchange(new)
    ex.orders = {o.client_id: o for o in (order(i) for i in range(5))}
    ex.save()
    asyncio.run(ex.close())
    assert PAGE_SIZE == 4096 and size(new) == PAGE_SIZE
    old = tmp_path / "old" / "sim_exchange.sqlite"
    old.parent.mkdir()
    raw = sqlite3.connect(old, isolation_level=None)
    raw.execute("PRAGMA page_size=8192")
    raw.execute("PRAGMA journal_mode=WAL")
    tables(raw)
    raw.close()
    ex = exchange(old)
    ex.orders = {o.client_id: o for o in (order(i) for i in range(5))}
    ex.save()
    asyncio.run(ex.close())
    again = exchange(old)
    assert list(again.orders) == [f"cid-{i:04d}" for i in range(5)]
    asyncio.run(again.close())
    assert size(old) == 8192
