"""The Store contract, run against every adapter: the SQLite store and the memory store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.adapters.memory.store import MemoryStore
from optiflow.adapters.sqlite.migrations import SCHEMA_VERSION
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.domain.events import Notify
from optiflow.domain.results import ExitRow, NearMiss
from optiflow.ports.store import FillRow, OrderRow, StateBatch, Store

MakeStore = Callable[..., Store]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory of fresh stores of one kind; every store made is closed at teardown."""
    made: list[Store] = []

    def factory(max_notes: int = 10_000, max_near_misses: int = 1_000) -> Store:
        """A new store of the parametrised kind with the given bounds."""
        store: Store
        if request.param == "memory":
            store = MemoryStore("A", max_notes=max_notes, max_near_misses=max_near_misses)
        else:
            path = tmp_path / f"s{len(made)}.sqlite"
            store = SqliteStore(path, "A", max_notes=max_notes, max_near_misses=max_near_misses)
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close()


def order(cid: str, status: str = "open", ts: int = 1, filled: str = "0") -> OrderRow:
    """An order row with awkward Decimals."""
    return OrderRow(
        cid,
        "p1",
        "BTC/USDT",
        "buy",
        "entry",
        Decimal("0.00100000"),
        Decimal(filled),
        status,
        20000.5,
        ts,
        ts + 1,
    )


def fill(fid: str, cid: str = "c1", ts: int = 5) -> FillRow:
    """A fill row with awkward Decimals."""
    return FillRow(
        fid,
        cid,
        "BTC/USDT",
        "buy",
        Decimal("1E-8"),
        Decimal("20000.10"),
        Decimal("0.000000020000100"),
        ts,
    )


def exit_row(pid: str, ts_exit: int, reason: str = "tp1") -> ExitRow:
    """An exit row with awkward Decimals."""
    return ExitRow(
        "A",
        "BTC/USDT",
        pid,
        1_000,
        ts_exit,
        Decimal("20000.10"),
        Decimal("20100.3300"),
        Decimal("0.0005"),
        Decimal("0.02005"),
        Decimal("-0.1234567890123456789"),
        reason,
    )


def test_load_is_none_for_a_new_store(make_store: MakeStore) -> None:
    """A store nothing was committed to loads as None and has no rows."""
    store = make_store()
    assert store.load() is None
    assert store.orders() == [] and store.fill_ids() == set() and store.exits() == []
    assert store.notes() == [] and store.near_misses() == []


def test_commit_then_load_round_trips_snapshot_and_cursor(make_store: MakeStore) -> None:
    """The latest snapshot and cursor come back as committed; a None cursor keeps the old one."""
    store = make_store()
    snap = {"positions": [{"id": "p1", "qty": "0.001", "steps": [True, False]}], "n": 1}
    store.commit(StateBatch(snapshot=snap, cursor={"BTC/USDT": 123}))
    store.commit(StateBatch(snapshot={**snap, "n": 2}))
    loaded = store.load()
    assert loaded is not None
    assert loaded.snapshot == {**snap, "n": 2}
    assert loaded.cursor == {"BTC/USDT": 123}
    assert loaded.schema_version == SCHEMA_VERSION  # v3: the shadows table, v4: exit signals
    assert loaded.extra["commit_seq"] == 2


def test_snapshot_is_copied_and_decimals_become_strings(make_store: MakeStore) -> None:
    """Mutating the dict after commit changes nothing; a Decimal left in it comes back as str."""
    store = make_store()
    snap: dict[str, object] = {"qty": Decimal("0.10"), "list": [1]}
    store.commit(StateBatch(snapshot=snap))
    snap["list"] = [2]
    loaded = store.load()
    assert loaded is not None and loaded.snapshot == {"qty": "0.10", "list": [1]}


def test_decimals_round_trip_exactly(make_store: MakeStore) -> None:
    """Orders, fills and exits keep every Decimal digit and exponent."""
    store = make_store()
    o, f, e = order("c1"), fill("f1"), exit_row("p1", 2_000)
    store.commit(StateBatch(snapshot={}, orders=(o,), fills=(f,), exits=(e,)))
    assert store.orders() == [o]
    assert str(store.orders()[0].qty) == "0.00100000"
    got_exit = store.exits()[0]
    assert got_exit == e and str(got_exit.net_pnl) == "-0.1234567890123456789"
    assert store.fill_ids() == {"f1"}


def test_fills_are_idempotent(make_store: MakeStore) -> None:
    """The same fill committed twice (even with other values) is kept once, as first seen."""
    store = make_store()
    store.commit(StateBatch(snapshot={}, fills=(fill("f1"), fill("f2"))))
    store.commit(StateBatch(snapshot={}, fills=(fill("f1", ts=99), fill("f3"))))
    assert store.fill_ids() == {"f1", "f2", "f3"}
    assert [f.ts for f in store.fills() if f.fill_id == "f1"] == [5]  # type: ignore[attr-defined]


def test_orders_upsert_by_client_id_and_filter_by_status(make_store: MakeStore) -> None:
    """An order committed again replaces the row; status filters and oldest-first order."""
    store = make_store()
    store.commit(StateBatch(snapshot={}, orders=(order("c2", ts=20), order("c1", ts=10))))
    store.commit(
        StateBatch(
            snapshot={},
            orders=(order("c1", "filled", ts=10, filled="0.001"), order("c3", "partial", ts=30)),
        )
    )
    assert [o.client_id for o in store.orders()] == ["c1", "c2", "c3"]
    assert store.orders()[0].status == "filled" and store.orders()[0].filled == Decimal("0.001")
    assert [o.client_id for o in store.orders(("open", "partial"))] == ["c2", "c3"]
    assert store.orders(("cancelled",)) == []
    assert store.orders(()) == []


def test_order_exchange_id_is_kept(make_store: MakeStore) -> None:
    """The exchange's order id survives the round trip (None stays None)."""
    store = make_store()
    o = OrderRow(
        "c9",
        "p9",
        "ETH/USDT",
        "sell",
        "tp1",
        Decimal("1"),
        Decimal("1"),
        "filled",
        1.5,
        7,
        8,
        exchange_id="X-123",
    )
    store.commit(StateBatch(snapshot={}, orders=(o, order("c1"))))
    assert {r.client_id: r.exchange_id for r in store.orders()} == {"c9": "X-123", "c1": None}


def test_exits_are_ordered_by_exit_time_and_filtered_by_since(make_store: MakeStore) -> None:
    """Exits come back oldest first by ts_exit; since_ts keeps ts_exit >= since_ts."""
    store = make_store()
    store.commit(StateBatch(snapshot={}, exits=(exit_row("p2", 3_000), exit_row("p1", 2_000))))
    store.commit(StateBatch(snapshot={}, exits=(exit_row("p1", 2_500, "tp2"),)))
    assert [e.ts_exit for e in store.exits()] == [2_000, 2_500, 3_000]
    assert [e.ts_exit for e in store.exits(since_ts=2_500)] == [2_500, 3_000]
    assert store.exits(since_ts=9_000) == []


def test_notes_keep_the_latest_within_the_bound(make_store: MakeStore) -> None:
    """Only the newest notes are kept; notes(limit) returns the latest, oldest first."""
    store = make_store(max_notes=10)
    for i in range(5):
        batch = tuple(Notify("entry", "BTC/USDT", f"n{i}-{j}", i * 10 + j) for j in range(7))
        store.commit(StateBatch(snapshot={}, notes=batch))
    assert [n.text for n in store.notes(3)] == ["n4-4", "n4-5", "n4-6"]
    latest = store.notes(1_000)
    assert len(latest) == 10 and latest[-1].text == "n4-6" and latest[0].text == "n3-4"
    assert store.notes(0) == []


def test_near_misses_keep_the_latest_within_the_bound(make_store: MakeStore) -> None:
    """Near misses are bounded too and keep their deciding values exactly."""
    store = make_store(max_near_misses=4)
    values = (("spread_bps", 12.345678901234567), ("limit", 10.0))
    for i in range(9):
        miss = NearMiss(i, "ETH/USDT", "filter", "spread", values)
        store.commit(StateBatch(snapshot={}, near_misses=(miss,)))
    got = store.near_misses(100)
    assert [m.ts for m in got] == [5, 6, 7, 8]
    assert got[0] == NearMiss(5, "ETH/USDT", "filter", "spread", values)
    assert [m.ts for m in store.near_misses(2)] == [7, 8]


def test_a_batch_with_everything_is_applied_whole(make_store: MakeStore) -> None:
    """One commit carrying every kind of row makes all of them visible together."""
    store = make_store()
    store.commit(
        StateBatch(
            snapshot={"k": 1},
            cursor={"i": 1},
            orders=(order("c1"),),
            fills=(fill("f1"),),
            exits=(exit_row("p1", 2_000),),
            notes=(Notify("exit", "BTC/USDT", "tp1", 2_000),),
            near_misses=(NearMiss(1, "BTC/USDT", "one_group", "", ()),),
        )
    )
    assert len(store.orders()) == len(store.exits()) == len(store.notes()) == 1
    assert store.fill_ids() == {"f1"} and store.near_misses()[0].values == ()
