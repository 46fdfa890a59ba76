"""Snapshot text (orjson, json where it would differ): read back as the value committed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from optiflow.adapters.sqlite.rows import dump_json
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.ports.store import StateBatch


def snap(top: list[Any], open_: list[Any], cash: str = "100") -> dict[str, Any]:
    """A snapshot shaped like the live runtime's (engine state with shadows)."""
    return {
        "bot": {
            "cash": cash,
            "positions": [{"symbol": "BTC/USDT", "stop": 99.5, "qty": Decimal("0.5")}],
            "shadows": {"seq": 3, "top": top, "open": open_, "outcomes": {"rsi": [1, 2, 0, "1"]}},
        },
        "stops": {},
    }


def test_store_reads_back_each_committed_snapshot(tmp_path: Path) -> None:
    """Through the SQLite store: every load returns exactly the snapshot just committed."""
    store = SqliteStore(tmp_path / "bot.sqlite", "T")
    try:
        top = [{"symbol": "ETH/USDT", "net_pnl": "1.5"}]
        for n, value in enumerate(
            [snap(top, []), snap(top, [], "5"), snap([], [{"pos": 1}]), snap([], [{"pos": 1}])]
        ):
            store.commit(StateBatch(snapshot=value, cursor={"n": n}))
            loaded = store.load()
            assert loaded is not None
            assert loaded.snapshot == json.loads(dump_json(value))
            assert loaded.cursor == {"n": n}
    finally:
        store.close()


def test_values_orjson_would_spell_differently_are_encoded_by_json() -> None:
    """NaN/infinity, non-string keys, huge ints, datetimes: exactly json.dumps(default=str)."""
    import datetime as dt

    plain = lambda v: json.dumps(v, separators=(",", ":"), default=str)  # noqa: E731
    for value in (
        {"stop": float("nan")},
        {"levels": [1.0, float("inf"), float("-inf")]},
        {1: "a", "b": 2},
        {"big": 2**70},
        {"when": dt.datetime(2023, 4, 3, 12, 0)},
        {"none": None, "d": Decimal("1.50")},
    ):
        assert dump_json(value) == plain(value)


def test_fast_text_reads_back_as_the_same_value() -> None:
    """The orjson text (non-ASCII as UTF-8, floats' exponents) loads to the json value."""
    value = {"s": "é→", "f": [1e16, 1e-7, -0.0, 0.1 + 0.2], "d": Decimal("2.5"), "t": (1, 2)}
    text = dump_json(value)
    assert "\\u" not in text  # the fast path was taken
    plain = json.dumps(value, separators=(",", ":"), default=str)
    assert json.loads(text) == json.loads(plain)


def test_none_beside_nan_still_goes_through_json() -> None:
    """A None (null in both) keeps the fast text; a NaN anywhere beside it is json's NaN."""
    plain = lambda v: json.dumps(v, separators=(",", ":"), default=str)  # noqa: E731
    cursor = {"ts": 5, "ticked": {"BTC/USDT": None, "ETH/USDT": "p1"}, "px": [1.5, 2.0]}
    assert dump_json(cursor) == plain(cursor)
    for bad in (float("nan"), float("inf"), float("-inf")):
        value = {"seen": {"ADA/USDT": None}, "deep": [{"x": (1.0, bad)}]}
        text = dump_json(value)
        assert text == plain(value) and "null" in text and "null," not in text.split("deep")[1]
