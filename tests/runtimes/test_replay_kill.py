"""kill -9 at 20+ random moments: no trade lost, no order duplicated, files agree with the DB."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from optiflow.adapters.files.exports import read_active_trades
from optiflow.adapters.sqlite.store import SqliteStore
from optiflow.config.loader import load_config
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import run_backtest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "runtime_config_optiscalpA.json"
START, END = "2023-04-03", "2023-04-17"  # two weeks: one week can end before the 20th kill


def replay_cmd(state: Path) -> list[str]:
    """The replay command line, as fast as possible."""
    return [
        sys.executable,
        "-m",
        "optiflow.interfaces.cli.main",
        "run",
        str(CONFIG),
        "--mode",
        "replay",
        "--speed",
        "0",
        "--from",
        START,
        "--to",
        END,
        "--state-dir",
        str(state),
    ]


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Replay killed 20+ times and restarted ends exactly like the uninterrupted backtest."""
    rng = random.Random(int(os.environ.get("OPTIFLOW_KILL_SEED", "20231124")))
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    kills, finished, t0 = 0, False, time.monotonic()
    while not finished:
        assert time.monotonic() - t0 < 600, "replay did not finish in time"
        proc = subprocess.Popen(
            replay_cmd(state), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        if kills < 22:
            time.sleep(rng.uniform(0.5, 1.3))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                kills += 1
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        finished = True
    assert kills >= 20
    cfg = load_config(CONFIG)
    data = load_folder(
        REPO / "data" / "binance_spot_1m",
        list(cfg.pairs),
        parse_when("f", START),
        parse_when("t", END),
    )
    expected = run_backtest(cfg, data)
    store = SqliteStore(state / "bot.sqlite", cfg.name)
    try:
        exits = store.exits()
        assert tuple(exits) == expected.exits  # no trade lost, none twice, same prices
        orders = store.orders()
        ids = [o.client_id for o in orders]
        assert len(ids) == len(set(ids))
        fills = store.fills()
        filled_ids = [f.client_id for f in fills]
        assert len(filled_ids) == len(set(filled_ids))  # every order filled exactly once
        # every order ended; an entry may be refused for balance (a reactive entry fills at
        # the moment of the exit, above its sizing price), then it never filled at all
        assert all(o.status in ("filled", "rejected") for o in orders)
        refused = [o for o in orders if o.status == "rejected"]
        assert all(o.reason == "entry" and o.filled == 0 for o in refused)
        assert len(refused) < len(orders) // 100
        assert store.integrity_check() == "ok"
        loaded = store.load()
        assert loaded is not None and loaded.snapshot["bot"]["positions"] == []
    finally:
        store.close()
    assert read_active_trades(state / "active_trades.json") == []
    with (state / "tp_performance.csv").open() as fh:
        perf = list(csv.DictReader(fh))
    assert {r["position_id"] for r in perf} == {e.position_id for e in exits}
    net = {r["position_id"]: r["net_pnl"] for r in perf}
    for pid in list(net)[:20]:
        total = sum(e.net_pnl for e in exits if e.position_id == pid)
        assert str(total) == net[pid]
    day_rows = sum(len(list(csv.DictReader(p.open()))) for p in state.glob("trades_*.csv"))
    assert day_rows == len(exits)
    summary = json.loads((state / "debug_monitoring_summary.json").read_text())
    assert set(summary["symbols"]) == set(cfg.pairs)


def test_sigterm_stops_cleanly_and_saves(tmp_path: Path) -> None:
    """SIGTERM announces the shutdown, finishes the cycle, saves state and exits 0."""
    state = tmp_path / "state"
    cmd = replay_cmd(state)
    cmd[cmd.index("--speed") + 1] = "2000"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # not a fixed sleep: a busy machine may still be importing (no SIGTERM handler yet)
    btc = state / "logs" / "OptiScalp_A" / "BTC_USDT.log"
    deadline = time.monotonic() + 120
    while not (btc.exists() and "primary=" in btc.read_text()):  # bars are being replayed
        assert proc.poll() is None and time.monotonic() < deadline, "the replay did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "Bot shutting down" in (out + err).decode()
    store = SqliteStore(state / "bot.sqlite", "OptiScalp_A")
    try:
        loaded = store.load()
        assert loaded is not None and loaded.cursor is not None
    finally:
        store.close()
    # every entry decision of a symbol, with its deciding values, in that symbol's DEBUG log
    btc_log = (state / "logs" / "OptiScalp_A" / "BTC_USDT.log").read_text()
    assert "primary=" in btc_log and "rsi" in btc_log and "DEBUG" in btc_log
    assert "ETH/USDT" not in btc_log


def test_a_database_that_is_not_ours_is_a_clear_error(tmp_path: Path) -> None:
    """Pointing a bot at a foreign database: exit 2 naming the file, no traceback."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "bot.sqlite").write_bytes(os.urandom(4096))
    proc = subprocess.run(replay_cmd(state), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "bot.sqlite" in proc.stderr and "Traceback" not in proc.stderr
