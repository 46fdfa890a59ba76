"""What a valid but doubtful setup prints at start, and what the reports say, through the CLI."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from tests.interfaces.cli.test_bad_inputs import DATA, REPO, cfg, optiflow

WEEK = ("--from", "2023-04-02", "--to", "2023-04-09")  # every pair of every preset has data


def preset(name: str, tmp: Path, **over: Any) -> str:
    """A shipped preset with overrides, written to ``tmp``."""
    base = json.loads((REPO / "configs" / f"runtime_config_{name}.json").read_text())
    for key, value in over.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(base))
    return str(path)


def test_tp1_fee_warning_at_start_of_backtest_and_replay(tmp_path: Path) -> None:
    """Preset C's TP1 does not clear the fees: backtest and replay both warn before running."""
    r = optiflow("backtest", "C", "--data", str(DATA), *WEEK)
    assert r.returncode == 0, r.stderr
    head = r.stdout.split("OptiFlow backtest report")[0]
    assert "WARNING OptiScalp_C: TP1 0.2 % does not clear the round-trip fees" in head
    r = optiflow(
        "run", "C", "--mode", "replay", "--speed", "0", "--state-dir", str(tmp_path / "s"),
        "--from", "2023-04-02", "--to", "2023-04-02T02:00",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "does not clear the round-trip fees" in r.stderr.split("starting")[0]


def test_dead_stepwise_level_warns(tmp_path: Path) -> None:
    """Preset A's step 4 can never fire (TP1 and steps 1-3 close everything first)."""
    r = optiflow("check-config", "A")
    assert "step_4 can never fire" in r.stdout
    shares = {"stepwise": {"shares": [0.1, 0.1, 0.1, 0.7]}}
    r = optiflow("check-config", cfg(tmp_path, exits=shares))
    assert "can never fire" not in r.stdout


def test_stake_above_balance_is_capped_with_a_warning_everywhere(tmp_path: Path) -> None:
    """A stake above the balance: check-config computes the capped stake; every mode warns."""
    path = cfg(tmp_path, capital={"starting_balance_usdt": 400, "stake_usdt": 500})
    r = optiflow("check-config", path)
    assert r.returncode == 0 and "stake $400.00" in r.stdout
    assert "stake_usdt 500 is above capital.starting_balance_usdt 400" in r.stdout
    r = optiflow("backtest", path, "--data", str(DATA), *WEEK)
    assert r.returncode == 0 and "stake_usdt 500 is above" in r.stdout


def test_fewer_than_two_entries_warns(tmp_path: Path) -> None:
    """A stake that leaves less than the notional floor for a second entry is warned about."""
    r = optiflow("check-config", cfg(tmp_path, capital={"starting_balance_usdt": 120}))
    assert "room for 1 entry at a time, fewer than two" in r.stdout
    assert "fewer than two" not in optiflow("check-config", "A").stdout


def test_other_exchange_backtest_says_it_uses_the_binance_table(tmp_path: Path) -> None:
    """A kraken bot backtested without `markets` is told it gets Binance's tick/lot table."""
    r = optiflow("backtest", cfg(tmp_path, exchange={"id": "kraken"}), "--data", str(DATA), *WEEK)
    assert r.returncode == 0, r.stderr
    assert "'kraken': BTC/USDT use the shipped Binance spot price tick and lot table" in r.stdout


def test_ticks_outside_the_candles_are_reported_unused(tmp_path: Path) -> None:
    """2024 tick captures on 2023 candles: the backtest says the ticks are unused."""
    ticks = REPO / "data" / "ticks"
    r = optiflow("backtest", cfg(tmp_path), "--data", str(DATA), *WEEK, "--ticks", str(ticks))
    assert r.returncode == 0, r.stderr
    assert re.search(r"ticks BTC/USDT: .*unused", r.stdout)


def test_csv_header_is_read_by_name(tmp_path: Path) -> None:
    """Reordered columns plus an extra one give exactly the trades of the original file."""
    with gzip.open(DATA / "BTC-USDT_1m.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[1:8000]
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    out = ["note,volume,close,low,high,open,timestamp_ms"]
    for line in lines:
        ts, o, h, lo, c, v = line.split(",")
        out.append(f"x,{v},{c},{lo},{h},{o},{ts}")
    (mixed / "BTC-USDT_1m.csv").write_text("\n".join(out) + "\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "BTC-USDT_1m.csv").write_text(
        "timestamp_ms,open,high,low,close,volume\n" + "\n".join(lines) + "\n"
    )
    path = cfg(tmp_path)
    a = optiflow("backtest", path, "--data", str(mixed), "--out", str(tmp_path / "a"))
    b = optiflow("backtest", path, "--data", str(plain), "--out", str(tmp_path / "b"))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    trades = (tmp_path / "a" / "trades.csv").read_text()
    assert trades == (tmp_path / "b" / "trades.csv").read_text() and trades.count("\n") > 1


def test_version_and_short_help() -> None:
    """``optiflow --version`` prints the version; ``-h`` works like --help."""
    r = optiflow("--version")
    assert r.returncode == 0 and re.fullmatch(r"optiflow \d+\.\d+\.\d+\S*\n", r.stdout)
    for args in (("-h",), ("backtest", "-h"), ("data", "download", "-h")):
        r = optiflow(*args)
        assert r.returncode == 0 and "Usage" in r.stdout, args


def test_replay_config_change_is_applied_only_with_the_flag(tmp_path: Path) -> None:
    """--accept-config-change resumes a replay under its new config and says so."""
    state = str(tmp_path / "state")
    window = ("--speed", "0", "--state-dir", state, "--from", "2023-04-01")
    r = optiflow("run", cfg(tmp_path), "--mode", "replay", *window, "--to", "2023-04-01T03:00")
    assert r.returncode == 0, r.stderr
    same = optiflow("run", cfg(tmp_path), "--mode", "replay", *window, "--to", "2023-04-01T04:00")
    assert same.returncode == 0 and "config changed" not in same.stdout + same.stderr
    changed = cfg(tmp_path, "changed.json", exits={"sl_pct": 0.8})
    r = optiflow(
        "run", changed, "--mode", "replay", *window, "--to", "2023-04-01T05:00",
        "--accept-config-change",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "config changed" in r.stdout + r.stderr


def test_ruin_is_said_in_console_summary_and_report(tmp_path: Path) -> None:
    """A bot whose balance falls below the minimum order is called ruined, with the date."""
    path = preset("optiscalpC", tmp_path, capital={"starting_balance_usdt": 51, "stake_usdt": 51})
    out = tmp_path / "out"
    r = optiflow("backtest", path, "--data", str(DATA), *WEEK, "--out", str(out))
    assert r.returncode == 0, r.stderr
    said = re.search(r"RUINED: balance fell below the minimum order .* on (2023-04-\d\d)", r.stdout)
    assert said, r.stdout[-3000:]
    notes = json.loads((out / "summary.json").read_text())["bots"][0]["notes"]
    assert any(n.startswith("RUINED") and said.group(1) in n for n in notes)
    basis = "PnL/day is the net PnL over 7.00 days, 2023-04-02 to 2023-04-08"
    assert any(basis in n for n in notes)
    assert "RUINED: balance fell below" in (out / "report.html").read_text()


def test_report_has_one_price_chart_per_pair_with_entries_and_exits(tmp_path: Path) -> None:
    """46 days of 1m data: one bounded price chart per pair, entries and exits marked."""
    out = tmp_path / "out"
    r = optiflow("backtest", "A", "--data", str(DATA), "--out", str(out))
    assert r.returncode == 0, r.stderr
    html = (out / "report.html").read_text()
    label = r'<svg class="chart"[^>]*aria-label="OptiScalp_A ([A-Z]+/USDT): price.*?</svg>'
    charts = re.findall(label, html, flags=re.S)
    assert charts == ["BTC/USDT", "ETH/USDT", "ADA/USDT"]
    for sym in charts:
        svg = html.split(f'aria-label="OptiScalp_A {sym}: price')[1].split("</svg>")[0]
        assert svg.count(">entry ") > 0 and svg.count("<circle") > 0
        columns = re.search(r' d="(M[^"]*)"', svg)
        assert columns is not None and columns.group(1).count("M") <= 760  # one per pixel
    assert "exit reasons by net PnL (fills)" in html
