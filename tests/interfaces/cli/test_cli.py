"""The command line as a user runs it: real processes, exit codes, files, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "data" / "binance_spot_1m"


def optiflow(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run ``optiflow`` with the test interpreter."""
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_backtest_writes_trades_summary_and_report(tmp_path: Path) -> None:
    """A backtest of two presets prints the report and writes the three files."""
    out = tmp_path / "out"
    r = optiflow(
        "backtest",
        "A",
        "configs/runtime_config_optiscalpB.json",
        "--data",
        str(DATA),
        "--from",
        "2023-04-02",
        "--to",
        "2023-04-04T12:00",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "OptiScalp_A" in r.stdout and "OptiScalp_B" in r.stdout
    assert {p.name for p in out.iterdir()} >= {"trades.csv", "summary.json", "report.html"}
    summary = json.loads((out / "summary.json").read_text())
    assert "fleet" in json.dumps(summary)
    header = (out / "trades.csv").read_text().splitlines()[0]
    assert header.startswith("bot,symbol,position_id,entry_time,exit_time")


def test_backtest_reads_freqtrade_json(tmp_path: Path) -> None:
    """A folder of freqtrade-style JSON candles backtests like the CSV ones."""
    import gzip

    with gzip.open(DATA / "BTC-USDT_1m.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[1:3000]
    rows = [[int(c[0]), *map(float, c[1:6])] for c in (x.split(",") for x in lines)]
    (tmp_path / "BTC_USDT-1m.json").write_text(json.dumps(rows))
    cfg = tmp_path / "btc.json"
    base = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    base["pairs"] = ["BTC/USDT"]
    cfg.write_text(json.dumps(base))
    r = optiflow("backtest", str(cfg), "--data", str(tmp_path))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["backtest", "A", "--from", "yesterday"], "--from"),
        (["backtest", "A", "--from", "2023-04-05", "--to", "2023-04-01"], "before"),
        (["backtest", "A", "--data", "/nonexistent/folder"], "/nonexistent/folder"),
        (["backtest", "no_such_preset"], "no_such_preset"),
        (["backtest", "A", "--from", "2030-01-01"], "2030"),
        (["check-config", "no_such_file.json"], "no_such_file.json"),
    ],
)
def test_user_mistakes_exit_2_with_one_clear_line(args: list[str], phrase: str) -> None:
    """Bad arguments: exit code 2, a message naming the problem, no traceback."""
    r = optiflow(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert phrase in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_check_config_bad_config_names_file_field_value(tmp_path: Path) -> None:
    """An invalid config names the file, the field, the value and what is allowed."""
    base = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    base["exits"]["tp1_pct"] = 0.9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(base))
    r = optiflow("check-config", str(bad))
    assert r.returncode == 2
    assert "bad.json" in r.stderr and "exits.tp1_pct" in r.stderr and "0.9" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_config_prints_fee_arithmetic() -> None:
    """check-config shows what each level is worth after fees and the break-even win rate."""
    r = optiflow("check-config", "A")
    assert r.returncode == 0, r.stderr
    for word in ("TP1", "TP2", "SL", "break-even"):
        assert word.lower() in r.stdout.lower()


def test_bad_data_file_is_a_clear_error(tmp_path: Path) -> None:
    """A corrupt candle file: exit 2 naming the file."""
    (tmp_path / "BTC-USDT_1m.csv").write_text("timestamp_ms,open,high,low,close,volume\n1,2,x\n")
    cfg = tmp_path / "c.json"
    base = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    base["pairs"] = ["BTC/USDT"]
    cfg.write_text(json.dumps(base))
    r = optiflow("backtest", str(cfg), "--data", str(tmp_path))
    assert r.returncode == 2 and "BTC-USDT_1m.csv" in r.stderr and "Traceback" not in r.stderr
