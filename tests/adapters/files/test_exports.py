"""The state files: formats, atomic writes, partial-exit aggregation, corrupted-file recovery."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from optiflow.adapters.files.exports import (
    TP_PERFORMANCE_HEADER,
    TRADES_HEADER,
    read_active_trades,
    tp_performance_csv,
    write_atomic,
    write_state_files,
)
from optiflow.domain.results import ExitRow, SymbolStats

DAY1 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
MIN = 60_000


def ex(
    pid: str, ts_exit: int, qty: str, price: str, pnl: str, reason: str, ts_entry: int = DAY1
) -> ExitRow:
    """An exit row of BTC bought at 100."""
    return ExitRow(
        "A",
        "BTC/USDT",
        pid,
        ts_entry,
        ts_exit,
        Decimal("100"),
        Decimal(price),
        Decimal(qty),
        Decimal("0.01"),
        Decimal(pnl),
        reason,
    )


def position(pid: str = "p9") -> dict[str, Any]:
    """An open position as the engine hands it over (Decimals already strings)."""
    return {
        "position_id": pid,
        "symbol": "ETH/USDT",
        "ts_entry": DAY1,
        "entry_price": "2000.5",
        "qty": "0.5",
        "qty_original": "1.0",
        "tp1_price": None,
        "tp2_price": "2100",
        "sl_price": "1950",
        "stop_price": "2000.5",
        "stop_is_breakeven": True,
        "tp1_hit": True,
        "steps_fired": [True, False],
        "step_prices": ["2010", "2020"],
    }


EXITS = [
    ex("p1", DAY1 + 5 * MIN, "0.5", "101", "0.49", "tp1"),
    ex("p2", DAY1 + 7 * MIN, "1", "99", "-1.01", "sl"),
    ex("p1", DAY1 + 120 * MIN, "0.5", "102", "0.99", "tp2"),  # next UTC day
    ex("p9", DAY1 + 9 * MIN, "0.5", "2010", "4.7", "tp1"),  # p9 is still open
]


def write(folder: Path, **over: Any) -> list[Path]:
    """Write the state files with sensible defaults."""
    args: dict[str, Any] = {
        "positions": [position()],
        "exits": EXITS,
        "stats": {
            "BTC/USDT": SymbolStats(
                candles=10,
                primary=3,
                confirming=2,
                passes_1plus1=2,
                entries=1,
                near_miss_one_group=4,
                near_miss_filter=1,
                rejections=(("spread", 2), ("atr", 1)),
            )
        },
        "symbol_runtime": {"BTC/USDT": {"errors": 1, "last_cycle_ts": DAY1, "last_cycle_ms": 1.25}},
        "info": {"name": "A", "mode": "replay", "started": DAY1, "updated": DAY1 + MIN},
    }
    args.update(over)
    return write_state_files(folder, **args)


def rows(path: Path) -> list[dict[str, str]]:
    """A CSV file as dicts."""
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_active_trades_json_lists_open_positions_with_iso_times(tmp_path: Path) -> None:
    """active_trades.json is a list of the positions as given plus entry_time in ISO."""
    write(tmp_path)
    data = json.loads((tmp_path / "active_trades.json").read_text())
    assert data == [{**position(), "entry_time": "2023-11-14T22:13:20.000Z"}]
    assert read_active_trades(tmp_path / "active_trades.json") == data


def test_tp_performance_aggregates_partial_exits(tmp_path: Path) -> None:
    """Two partial exits make one closed line: qty, avg exit, fees, pnl, reasons, TP hits."""
    write(tmp_path)
    got = rows(tmp_path / "tp_performance.csv")
    assert list(got[0]) == list(TP_PERFORMANCE_HEADER)
    assert [r["position_id"] for r in got] == ["p2", "p1"]  # by last exit; open p9 left out
    p1 = got[1]
    assert p1["qty"] == "1.0" and p1["avg_exit_price"] == "101.5"
    assert p1["fees"] == "0.02" and p1["net_pnl"] == "1.48" and p1["pnl_pct"] == "1.48"
    assert p1["hold_minutes"] == "120" and p1["exit_time"] == "2023-11-15T00:13:20.000Z"
    assert (p1["final_reason"], p1["reasons"]) == ("tp2", "tp1|tp2")
    assert (p1["tp1_hit"], p1["tp2_hit"]) == ("true", "true")
    assert (got[0]["final_reason"], got[0]["tp1_hit"]) == ("sl", "false")


def test_tp_performance_of_nothing_is_just_the_header() -> None:
    """No closed position: only the header line."""
    assert tp_performance_csv([]) == ",".join(TP_PERFORMANCE_HEADER) + "\n"


def test_trades_files_one_per_utc_exit_day(tmp_path: Path) -> None:
    """Exit fills go to trades_<UTC day of exit>.csv with the backtest trades.csv columns."""
    write(tmp_path)
    day1, day2 = tmp_path / "trades_2023-11-14.csv", tmp_path / "trades_2023-11-15.csv"
    assert list(rows(day1)[0]) == list(TRADES_HEADER)
    assert [(r["position_id"], r["exit_reason"]) for r in rows(day1)] == [
        ("p1", "tp1"),
        ("p2", "sl"),
        ("p9", "tp1"),
    ]
    (line,) = rows(day2)
    assert line["exit_price"] == "102" and line["entry_time"] == "2023-11-14T22:13:20.000Z"


def test_monitoring_summary_has_per_symbol_counters_and_health(tmp_path: Path) -> None:
    """The summary carries signals, passes, rejections, near misses, errors and cycle time."""
    write(
        tmp_path,
        symbol_runtime={
            "BTC/USDT": {"errors": 1, "last_cycle_ts": DAY1, "last_cycle_ms": 1.25},
            "ETH/USDT": {"errors": 0, "last_cycle_ts": None, "last_cycle_ms": None},
        },
    )
    data = json.loads((tmp_path / "debug_monitoring_summary.json").read_text())
    assert data["bot"]["started"] == "2023-11-14T22:13:20.000Z"
    assert data["bot"]["started_ms"] == DAY1 and data["bot"]["mode"] == "replay"
    btc = data["symbols"]["BTC/USDT"]
    assert btc == {
        "candles": 10,
        "signals": {"primary": 3, "confirming": 2},
        "passes_1plus1": 2,
        "entries": 1,
        "rejections": {"atr": 1, "spread": 2},
        "rejections_total": 3,
        "near_misses": {"one_group": 4, "filter": 1},
        "errors": 1,
        "last_cycle_time": "2023-11-14T22:13:20.000Z",
        "last_cycle_ms": 1.25,
        "stale": False,
        "last_candle_age_s": None,
    }
    assert data["symbols"]["ETH/USDT"]["candles"] == 0
    assert data["symbols"]["ETH/USDT"]["last_cycle_time"] is None
    assert data["totals"]["rejections_total"] == 3 and data["totals"]["errors"] == 1


def test_unchanged_files_are_not_rewritten_and_days_limit_work(tmp_path: Path) -> None:
    """A second identical write touches nothing; only the named days are rendered."""
    first = write(tmp_path)
    assert {p.name for p in first} == {
        "active_trades.json",
        "tp_performance.csv",
        "debug_monitoring_summary.json",
        "trades_2023-11-14.csv",
        "trades_2023-11-15.csv",
    }
    assert write(tmp_path) == []
    more = [*EXITS, ex("p3", DAY1 + 130 * MIN, "1", "100", "0", "timeout")]
    (tmp_path / "trades_2023-11-14.csv").write_text("stale but not touched")
    written = write(tmp_path, exits=more, days={date(2023, 11, 15)})
    assert {p.name for p in written} == {"tp_performance.csv", "trades_2023-11-15.csv"}
    assert (tmp_path / "trades_2023-11-14.csv").read_text() == "stale but not touched"


def test_garbage_or_truncated_files_are_rewritten(tmp_path: Path) -> None:
    """A corrupted state file (as a crash could leave) is replaced by the next write."""
    write(tmp_path)
    good = (tmp_path / "active_trades.json").read_text()
    (tmp_path / "active_trades.json").write_bytes(b"\x00\xffgarbage")
    (tmp_path / "tp_performance.csv").write_text("bot,sym")
    assert read_active_trades(tmp_path / "active_trades.json") is None
    written = {p.name for p in write(tmp_path)}
    assert written == {"active_trades.json", "tp_performance.csv"}
    assert (tmp_path / "active_trades.json").read_text() == good


@pytest.mark.parametrize("content", ["", '[{"position_id": "p1"', '{"a": 1}', "[1, 2]"])
def test_read_active_trades_returns_none_on_bad_content(tmp_path: Path, content: str) -> None:
    """Empty, cut-short or wrongly shaped files read as None, never an exception."""
    path = tmp_path / "active_trades.json"
    path.write_text(content)
    assert read_active_trades(path) is None
    assert read_active_trades(tmp_path / "missing.json") is None
    assert read_active_trades(tmp_path) is None  # a folder


def test_no_temp_files_are_left_behind(tmp_path: Path) -> None:
    """After writing, the folder holds only the state files."""
    write(tmp_path)
    write(tmp_path, positions=[])
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".") or p.endswith(".tmp")]


def test_a_failed_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the rename fails, the previous content stays whole and the temp file is removed."""
    target = tmp_path / "x.json"
    write_atomic(target, "old")

    def boom(src: str, dst: str) -> None:
        """A rename that fails like a full disk."""
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(target, "new")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["x.json"]
