"""Report files: written atomically, trades.csv round-trips, summary.json holds the figures."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from optiflow.app.summary import summarize, summarize_fleet
from optiflow.domain.results import BotRun
from optiflow.interfaces.report.files import TRADES_HEADER, write_atomic, write_outputs


def _ms(text: str) -> int:
    """Parse an ISO 8601 UTC time back to epoch milliseconds."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None)
    return round(moment.timestamp() * 1000)


def _write(tmp_path: Path, runs: list[BotRun]) -> list[Path]:
    """Summarise the runs and write every report file under tmp_path/out."""
    return write_outputs(
        tmp_path / "out", runs, [summarize(r) for r in runs], summarize_fleet(runs)
    )


def test_files_written_without_temp_leftovers(tmp_path: Path, runs: list[BotRun]) -> None:
    """The three files exist, are returned, and no temp file is left behind."""
    paths = _write(tmp_path, runs)
    assert [p.name for p in paths] == ["trades.csv", "summary.json", "report.html"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_trades_csv_round_trips(tmp_path: Path, runs: list[BotRun]) -> None:
    """Each exit row comes back from trades.csv with exact Decimals and timestamps."""
    _write(tmp_path, runs)
    with (tmp_path / "out" / "trades.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == TRADES_HEADER
        rows = list(reader)
    exits = [e for r in runs for e in r.exits]
    assert len(rows) == len(exits) == 3
    for row, e in zip(rows, exits, strict=True):
        assert (row["bot"], row["symbol"], row["position_id"]) == (e.bot, e.symbol, e.position_id)
        assert (_ms(row["entry_time"]), _ms(row["exit_time"])) == (e.ts_entry, e.ts_exit)
        assert Decimal(row["entry_price"]) == e.entry_price
        assert Decimal(row["exit_price"]) == e.exit_price
        assert Decimal(row["qty"]) == e.qty and Decimal(row["fees"]) == e.fees
        assert Decimal(row["net_pnl"]) == e.net_pnl and row["exit_reason"] == e.reason
        assert "E" not in row["net_pnl"]


def test_summary_json_has_the_figures(tmp_path: Path, runs: list[BotRun]) -> None:
    """summary.json parses, has sorted keys, and carries per-bot and fleet figures."""
    _write(tmp_path, runs)
    text = (tmp_path / "out" / "summary.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
    bot = data["bots"][0]
    assert bot["bot"] == "A" and bot["trades"]["net_pnl"] == "-0.8000"
    assert bot["trades"]["win_rate_pct"] == "50.00" and bot["trades"]["total_fees"] == "0.8000"
    assert bot["target"]["status"] == "below" and bot["pnl_per_day"] == "-0.4000"
    assert bot["rejections"]["spread"] == 3
    assert data["bots"][1]["trades"]["win_rate_pct"] is None
    assert data["fleet"]["trades"]["exit_fills"] == 3
    assert data["fleet"]["target"]["daily_usd_min"] == "15.0000"


def test_write_atomic_replaces_existing(tmp_path: Path) -> None:
    """An existing file is replaced whole and no temp file remains."""
    target = tmp_path / "x.txt"
    target.write_text("old", encoding="utf-8")
    write_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
