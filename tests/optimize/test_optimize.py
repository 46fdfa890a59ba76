"""`optiflow optimize` end to end: planted optimum, walk-forward leakage, resume, workers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import planted  # noqa: E402

from optiflow.app.summary import summarize  # noqa: E402
from optiflow.config.loader import load_config  # noqa: E402
from optiflow.marketdata.loaders import load_folder  # noqa: E402
from optiflow.optimize.folds import guard_before, slice_data  # noqa: E402
from optiflow.runtimes.backtest import run_backtest  # noqa: E402

CLI = [sys.executable, "-m", "optiflow.interfaces.cli.main", "optimize"]


def optimize(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real `optiflow optimize` command in a child process."""
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=120
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def finished(db: Path) -> list[tuple[int, str]]:
    """(number, state) of every finished trial in an SQLite study file."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT number, state FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
        ).fetchall()
    return [(int(n), str(s)) for n, s in rows]


def workers_of(db: Path) -> list[tuple[int, str]]:
    """(trial number, worker pid attribute) of every trial that recorded one."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a "
            "ON a.trial_id = t.trial_id WHERE a.key = 'worker'"
        ).fetchall()
    return [(int(n), str(v)) for n, v in rows]


def test_planted_optimum_is_found_and_written_config_scores_the_same(tmp_path: Path) -> None:
    """The known best TP/SL pair wins; the written config backtests to the recorded score."""
    cfg, data, space = planted.write_setup(tmp_path)
    out = tmp_path / "out"
    proc = optimize(cfg, "--data", data, "--space", space, "--trials", 24, "--jobs", 2,
                    "--seed", 7, "--min-trades", 5, "--out", out)  # fmt: skip
    doc = json.loads((out / "optimize.json").read_text())
    best = doc["stages"][0]
    assert best["best_params"] == planted.BEST, proc.stdout
    written = out / "runtime_config_Planted_optimized.json"
    check = subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", "check-config", str(written)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    again = load_config(written)
    run = run_backtest(again, load_folder(data, again.pairs))
    assert float(summarize(run).pnl_per_day) == best["best_value"]
    assert "study.csv" in proc.stdout and (out / "optimize.html").read_text().count("<svg") >= 1
    rows = (out / "study.csv").read_text().splitlines()
    with sqlite3.connect(out / "optuna.db") as con:
        assert len(rows) - 1 == con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert len(finished(out / "optuna.db")) in (24, 25)  # two workers may overshoot by one
    pids = workers_of(out / "optuna.db")
    numbers = [n for n, _ in pids]
    assert len(numbers) == len(set(numbers)), "a trial was run by two workers"
    assert len({p for _, p in pids}) == 2, "both worker processes ran trials"


def test_walk_forward_trials_never_see_their_test_fold(tmp_path: Path) -> None:
    """Every in-sample trial of a fold ran on candles strictly before that fold's start."""
    cfg, data, space = planted.write_setup(tmp_path, days=4)
    out = tmp_path / "out"
    proc = optimize(cfg, "--data", data, "--space", space, "--trials", 8, "--jobs", 1,
                    "--walk-forward", 2, "--min-trades", 3, "--out", out)  # fmt: skip
    doc = json.loads((out / "optimize.json").read_text())
    assert [s["label"] for s in doc["stages"]] == ["fold 1/2", "fold 2/2"]
    with sqlite3.connect(out / "optuna.db") as con:
        for stage in doc["stages"]:
            fold_start = _ms(stage["test"][0])
            assert _ms(stage["train"][1]) == fold_start
            rows = con.execute(
                "SELECT a.key, a.value_json FROM trial_user_attributes a JOIN trials t "
                "ON a.trial_id = t.trial_id JOIN studies s ON s.study_id = t.study_id "
                "WHERE s.study_name = ? AND a.key IN ('last_candle_ts', 'run_end_ts')",
                (stage["study"],),
            ).fetchall()
            assert rows, f"no completed trial in {stage['study']}"
            for key, value in rows:
                limit = fold_start - 60_000 if key == "last_candle_ts" else fold_start
                assert int(value) <= limit, f"{key} {value} reaches the test fold {fold_start}"
            assert stage["out_of_sample"] is not None
    assert "out of sample:" in proc.stdout


def test_guard_refuses_a_slice_that_reaches_the_fold(tmp_path: Path) -> None:
    """The leak guard raises when a candle at or after the fold start is passed on."""
    _, data, _ = planted.write_setup(tmp_path, days=1)
    candles = load_folder(data, ["BTC/USDT"])
    cut = planted.START_MS + 600 * 60_000
    assert guard_before(slice_data(candles, 0, cut), cut) == cut - 60_000
    with pytest.raises(AssertionError, match="leak"):
        guard_before(slice_data(candles, 0, cut + 60_000), cut)


def _ms(iso: str) -> int:
    """Milliseconds of an ISO 8601 UTC timestamp."""
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _start(args: list[str]) -> subprocess.Popen[str]:
    """Start `optiflow optimize` in its own process group."""
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_for_trials(db: Path, n: int, proc: subprocess.Popen[str]) -> None:
    """Wait until the study file holds ``n`` finished trials."""
    deadline = time.monotonic() + 180  # a hang guard: trials are slow on a busy machine
    while time.monotonic() < deadline:
        if db.exists():
            try:
                if len(finished(db)) >= n:
                    return
            except sqlite3.OperationalError:
                pass
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no trials finished in time")


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_stopped_study_resumes_where_it_was(tmp_path: Path, how: str) -> None:
    """Ctrl+C (or kill -9 of the whole group) keeps finished trials; the rerun completes them."""
    cfg, data, space = planted.write_setup(tmp_path, days=12)
    out = tmp_path / "out"
    args = [str(cfg), "--data", str(data), "--space", str(space), "--trials", "30",
            "--jobs", "1", "--min-trades", "3", "--no-prune", "--out", str(out)]  # fmt: skip
    proc = _start(args)
    _wait_for_trials(out / "optuna.db", 3, proc)
    if how == "SIGINT":
        os.kill(proc.pid, signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, stdout
        assert "run the same command again to resume" in stdout
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    before = finished(out / "optuna.db")
    assert 3 <= len(before) < 30
    optimize(*args)
    after = finished(out / "optuna.db")
    assert len(after) == 30
    assert {n for n, _ in before} <= {n for n, _ in after}
    with sqlite3.connect(out / "optuna.db") as con:
        assert con.execute("SELECT COUNT(*) FROM studies").fetchone() == (1,)


@pytest.mark.parametrize(
    ("space", "args", "expected"),
    [
        ({"exits.sl_pct": {"type": "float", "low": 2, "high": 1}}, [], "low 2 must be below"),
        ({"exits.sl_pct": {"type": "float", "low": -1, "high": 1}}, [], "exits.sl_pct.low"),
        ({"exits.nope": {"type": "int", "low": 1, "high": 3}}, [], "not a config field"),
        ({"timeframe": {"type": "categorical", "choices": ["2m"]}}, [], "choices[0]"),
        ({}, ["--storage", "foo://x"], "not a storage URL"),
        ({}, ["--storage", "postgresql://u:hunter2@127.0.0.1:1/db"], "cannot open"),
        ({}, ["--walk-forward", "5"], "5 folds need at least 6 days"),
        ({}, ["--objective", "luck"], "allowed: net_per_day"),
    ],
)
def test_bad_inputs_exit_2_with_one_clear_line(
    tmp_path: Path, space: dict[str, object], args: list[str], expected: str
) -> None:
    """Bad spaces, storage URLs, objectives and too-short periods: one line, exit 2."""
    cfg, data, _ = planted.write_setup(tmp_path, days=2)
    space_file = tmp_path / "bad_space.json"
    space_file.write_text(json.dumps(space))
    proc = optimize(cfg, "--data", data, "--space", space_file, "--out", tmp_path / "o",
                    "--trials", 2, *args, check=False)  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr and "hunter2" not in proc.stderr
    if space:
        assert str(space_file) in proc.stderr
