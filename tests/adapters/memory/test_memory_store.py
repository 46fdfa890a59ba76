"""Memory-store specifics (the shared Store contract runs in tests/adapters/sqlite)."""

from __future__ import annotations

from decimal import Decimal

from optiflow.adapters.memory.store import MemoryStore
from optiflow.ports.store import FillRow, StateBatch, Store


def test_memory_store_satisfies_the_port() -> None:
    """MemoryStore is usable wherever a Store is expected."""
    store: Store = MemoryStore("A")
    assert store.load() is None
    store.close()


def test_two_memory_stores_share_nothing() -> None:
    """Each backtest bot gets its own memory; commits never leak between instances."""
    a, b = MemoryStore("A"), MemoryStore("B")
    fill = FillRow("f1", "c1", "BTC/USDT", "buy", Decimal("1"), Decimal("2"), Decimal("0"), 1)
    a.commit(StateBatch({"n": 1}, fills=(fill,)))
    assert b.load() is None and b.fill_ids() == set()
    loaded = a.load()
    assert loaded is not None and loaded.extra == {"commit_seq": 1, "bot": "A"}


def test_state_is_still_readable_after_close() -> None:
    """Closing a memory store releases nothing, so reports can still read it."""
    store = MemoryStore("A")
    store.commit(StateBatch({"n": 1}))
    store.close()
    loaded = store.load()
    assert loaded is not None and loaded.snapshot == {"n": 1}
