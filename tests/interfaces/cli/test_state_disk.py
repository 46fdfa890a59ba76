"""Issue 7, bug 5: a read-only, immutable or full state folder is one clear line, no crash."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interfaces.cli.state_support import (  # noqa: E402
    cli,
    exchange_config,
    fake_binance,
    fill_up,
    mounted_tmpfs,
    one_line_error,
    remount_read_only,
    replay_args,
    run,
    start,
)


def cycles(summary: Path) -> int:
    """The bot's cycle count in its monitoring summary (0 before the file is there)."""
    try:
        return int(json.loads(summary.read_text())["bot"]["cycles"])
    except (OSError, ValueError, KeyError):
        return 0


def test_read_only_state_folder_at_start_is_one_line(tmp_path: Path) -> None:
    """A finished bot's folder remounted read-only, and a new folder on it: exit 2, one line."""
    with mounted_tmpfs(tmp_path / "mnt", "64m") as mnt:
        state = mnt / "state"
        r = run(replay_args(state))
        assert r.returncode == 0, r.stderr[-2000:]
        remount_read_only(mnt)
        line = one_line_error(run(replay_args(state)))
        assert str(state) in line and "not writable" in line
        line = one_line_error(run(replay_args(mnt / "other")))
        assert str(mnt / "other") in line


def test_full_disk_at_start_is_one_line(tmp_path: Path) -> None:
    """A state folder on a full file system: exit 2 with one line naming the folder."""
    with mounted_tmpfs(tmp_path / "mnt", "4m") as mnt:
        state = mnt / "state"
        state.mkdir()
        fill_up(mnt)
        line = one_line_error(run(replay_args(state)))
        assert str(state) in line and ("full" in line or "No space" in line)


def test_disk_filling_up_during_a_replay_stops_it_cleanly(tmp_path: Path) -> None:
    """Logs, state files and finally the store run out of room: no traceback, exit 2 with
    the reason, and after space is freed the replay resumes and finishes."""
    with mounted_tmpfs(tmp_path / "mnt", "20m") as mnt:
        state = mnt / "state"
        r = run([*replay_args(state, end="2023-04-12"), "--log-max-mb", "400"])
        assert r.returncode == 2, r.stderr[-3000:]
        assert "Traceback" not in r.stderr + r.stdout
        assert "cannot save the replay state" in r.stderr and "full" in r.stderr
        for log in (state / "logs").rglob("*.log*"):
            log.unlink()
        r = run([*replay_args(state, end="2023-04-12"), "--log-max-mb", "1"])
        assert "Traceback" not in r.stderr + r.stdout
        assert r.returncode == 0, r.stderr[-3000:]
        total = sum(p.stat().st_size for p in (state / "logs").rglob("*"))
        assert total <= 1.1 * 2**20


def test_immutable_state_folder_is_caught_before_sqlite_opens(tmp_path: Path) -> None:
    """chattr +i on a killed bot's folder (its -shm left behind): exit 2, one line, no SIGBUS."""
    state = tmp_path / "state"
    proc = start(replay_args(state, end="2023-04-30"))
    deadline = time.monotonic() + 60
    while not (state / "bot.sqlite-shm").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    r = subprocess.run(["chattr", "+i", str(state)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"chattr +i is not permitted here: {r.stderr}")
    try:
        line = one_line_error(run(replay_args(state, end="2023-04-30")))
        assert str(state) in line and "not writable" in line
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=True)


def test_paper_bot_keeps_cycling_when_a_state_file_cannot_be_written(tmp_path: Path) -> None:
    """active_trades.json cannot be replaced (a folder sits at its path): the paper bot warns
    once, keeps trading and writing the other files, and stops cleanly with exit 0."""
    state = tmp_path / "state"
    (state / "active_trades.json").mkdir(parents=True)
    with fake_binance() as url:
        cfg = exchange_config(tmp_path, url, "paper")
        proc = start(cli("run", str(cfg), "--mode", "paper", "--state-dir", str(state)))
        summary = state / "debug_monitoring_summary.json"
        deadline = time.monotonic() + 90
        while cycles(summary) < 3:
            assert proc.poll() is None, proc.communicate()[0][-3000:]
            assert time.monotonic() < deadline, "the bot stopped cycling"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    warnings = [ln for ln in out.splitlines() if "cannot be written" in ln and "WARNING" in ln]
    assert len(warnings) == 1, out[-3000:]
    assert "Is a directory" in warnings[0]
