"""Issue 7, bugs 3, 7 and 2 (repair): restarts never wipe, roll back or crash-loop silently."""

from __future__ import annotations

import hashlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interfaces.cli.state_support import (  # noqa: E402
    CONFIG,
    cli,
    one_line_error,
    replay_args,
    run,
    start,
)

STATE_FILES = ("tp_performance.csv", "debug_monitoring_summary.json", "active_trades.json")


def digest(state: Path) -> dict[str, str]:
    """Hashes of the database and every state file."""
    names = ["bot.sqlite", *STATE_FILES, *sorted(p.name for p in state.glob("trades_*.csv"))]
    return {n: hashlib.sha256((state / n).read_bytes()).hexdigest() for n in names}


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on a state database."""
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql).fetchall())
    finally:
        conn.close()


EXITS = "SELECT position_id, ts_exit, exit_price, qty, net_pnl, reason FROM exits ORDER BY id"


def finished_replay(state: Path) -> list[tuple[object, ...]]:
    """Run the short replay to its end; its exit rows."""
    r = run(replay_args(state))
    assert r.returncode == 0, r.stderr[-2000:]
    return rows(state / "bot.sqlite", EXITS)


def test_finished_replay_started_again_changes_nothing(tmp_path: Path) -> None:
    """A second start of a finished replay says so, exits 0 and leaves every file as it was."""
    state = tmp_path / "state"
    exits = finished_replay(state)
    assert len(exits) > 20
    before = digest(state)
    r = run(replay_args(state))
    assert r.returncode == 0, r.stderr[-2000:]
    assert digest(state) == before
    assert rows(state / "bot.sqlite", EXITS) == exits
    assert "finished" in r.stdout and "optiflow state reset" in r.stdout and "--fresh" in r.stdout


def test_reset_and_fresh_need_confirmation_and_start_over(tmp_path: Path) -> None:
    """`state reset` and `run --fresh` refuse without --yes off a terminal, then start over."""
    state = tmp_path / "state"
    exits = finished_replay(state)
    before = digest(state)
    line = one_line_error(run(cli("state", "reset", str(CONFIG), "--state-dir", str(state))))
    assert "--yes" in line
    line = one_line_error(run([*replay_args(state), "--fresh"]))
    assert "--yes" in line
    assert digest(state) == before
    r = run(cli("state", "reset", str(CONFIG), "--state-dir", str(state), "--yes"))
    assert r.returncode == 0 and "bot.sqlite" in r.stdout, r.stderr
    assert not (state / "bot.sqlite").exists() and not (state / "tp_performance.csv").exists()
    assert finished_replay(state) == exits
    r = run([*replay_args(state), "--fresh", "--yes"])
    assert r.returncode == 0 and "started fresh" in r.stdout, r.stderr[-2000:]
    assert rows(state / "bot.sqlite", EXITS) == exits


def wait_started(proc: subprocess.Popen[str], state: Path, seconds: float) -> None:
    """Wait until the replay has begun its run (its database made, "starting" said), then
    `seconds` more: a busy machine may take seconds to import and load before that."""
    deadline = time.monotonic() + 120
    log = state / "logs" / "OptiScalp_A" / "bot.log"
    while not (state / "bot.sqlite-wal").exists() or "starting: replay" not in (
        log.read_text() if log.exists() else ""
    ):
        assert proc.poll() is None and time.monotonic() < deadline, "the replay did not start"
        time.sleep(0.05)
    time.sleep(seconds)


def seq_in(tmp: Path, state: Path, with_wal: bool) -> int:
    """The commit sequence a copy of the database holds, with or without its WAL."""
    tmp.mkdir(exist_ok=True)
    for name in ("bot.sqlite", "bot.sqlite-wal") if with_wal else ("bot.sqlite",):
        shutil.copy(state / name, tmp / name)
    try:
        found = rows(tmp / "bot.sqlite", "SELECT seq FROM snapshot")
    except sqlite3.OperationalError:  # nothing checkpointed yet: no tables in the file
        found = []
    shutil.rmtree(tmp)
    return int(str(found[0][0])) if found else 0


def kill_with_unsaved_wal(tmp: Path, state: Path) -> None:
    """Kill -9 a long replay at a moment its WAL holds commits not yet checkpointed."""
    for _ in range(5):
        proc = start(replay_args(state, end="2023-04-30"))
        wait_started(proc, state, 1.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if seq_in(tmp / "a", state, True) > seq_in(tmp / "b", state, False):
            return
    raise AssertionError("no kill left un-checkpointed commits")


def test_truncated_wal_is_refused_not_silently_rolled_back(tmp_path: Path) -> None:
    """A WAL cut off after a kill: the restart exits 2 saying the database went backwards."""
    state = tmp_path / "state"
    kill_with_unsaved_wal(tmp_path, state)
    (state / "bot.sqlite-wal").write_bytes(b"")
    line = one_line_error(run(replay_args(state, end="2023-04-30")))
    assert "went backwards" in line and "optiflow state reset" in line


def test_corrupt_database_says_corrupt(tmp_path: Path) -> None:
    """Garbage over the pages of a finished replay's database: exit 2, "corrupt", the path."""
    state = tmp_path / "state"
    finished_replay(state)
    db = state / "bot.sqlite"
    data = bytearray(db.read_bytes())
    data[4096:] = bytes((i * 7) % 251 for i in range(len(data) - 4096))
    db.write_bytes(bytes(data))
    line = one_line_error(run(replay_args(state)))
    assert "corrupt" in line and str(db) in line
    db.write_bytes(b"x" * 8192)  # not even an SQLite header
    line = one_line_error(run(replay_args(state)))
    assert "corrupt" in line and str(db) in line


def test_store_written_by_two_processes_has_a_repair_path(tmp_path: Path) -> None:
    """Orders past the saved snapshot and duplicate exits: exit 2 naming `state repair`;
    the repair says what it removed and the replay then ends as an undisturbed one."""
    ahead, behind = tmp_path / "ahead", tmp_path / "behind"
    exits = finished_replay(ahead)
    proc = start(replay_args(behind, speed="3000"))
    wait_started(proc, behind, 4)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    (snap,) = rows(behind / "bot.sqlite", "SELECT state, cursor FROM snapshot")
    conn = sqlite3.connect(ahead / "bot.sqlite")
    conn.execute("UPDATE snapshot SET state = ?, cursor = ?", snap)
    conn.execute(
        "INSERT INTO exits (bot, symbol, position_id, ts_entry, ts_exit, entry_price, "
        "exit_price, qty, fees, net_pnl, reason) SELECT bot, symbol, position_id, ts_entry, "
        "ts_exit, entry_price, exit_price, qty, fees, net_pnl, reason FROM exits LIMIT 5"
    )
    conn.commit()
    conn.close()
    shutil.copy(ahead / "bot.sqlite", tmp_path / "damaged.sqlite")
    line = one_line_error(run(replay_args(ahead)))
    assert "newer than the saved engine state" in line and "duplicate exit" in line
    assert f"optiflow state repair {CONFIG} --state-dir {ahead}" in line
    fixed = run(cli("state", "repair", str(CONFIG), "--state-dir", str(ahead)))
    assert fixed.returncode == 0, fixed.stderr
    assert "removed" in fixed.stdout and "duplicate exit" in fixed.stdout
    r = run(replay_args(ahead))
    assert r.returncode == 0, r.stderr[-2000:]
    assert rows(ahead / "bot.sqlite", EXITS) == exits
    again = run(cli("state", "repair", str(CONFIG), "--state-dir", str(ahead)))
    assert again.returncode == 0 and "nothing to repair" in again.stdout
