"""Issue 7, bug 2: one process per state folder, in replay, paper and live mode."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interfaces.cli.state_support import (  # noqa: E402
    CONFIG,
    cli,
    exchange_config,
    fake_binance,
    live_env,
    one_line_error,
    replay_args,
    run,
    start,
    wait_for_lock,
)

MESSAGE = re.compile(r"bot OptiScalp_A is already running \(pid (\d+)\)")


def test_second_replay_on_one_folder_exits_2_and_kill_9_releases_the_lock(tmp_path: Path) -> None:
    """A second replay on a running bot's folder exits 2 naming the pid; kill -9 frees it."""
    state = tmp_path / "state"
    first = start(replay_args(state, speed="500"))
    try:
        wait_for_lock(first, state)
        line = one_line_error(run(replay_args(state)))
        m = MESSAGE.search(line)
        assert m is not None and int(m.group(1)) == first.pid, line
        show = run(cli("state", "show", str(CONFIG), "--state-dir", str(state)))
        assert show.returncode == 0 and "OptiScalp_A" in show.stdout, show.stderr
        reset = run(cli("state", "reset", str(CONFIG), "--state-dir", str(state), "--yes"))
        assert MESSAGE.search(one_line_error(reset))
        assert (state / "bot.sqlite").exists()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    again = run(replay_args(state))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already running" not in again.stderr


@pytest.mark.parametrize("mode", ["paper", "live"])
def test_second_exchange_bot_on_one_folder_exits_2(tmp_path: Path, mode: str) -> None:
    """Paper or live against the fake Binance: the second process on the folder exits 2."""
    state = tmp_path / "state"
    with fake_binance() as url:
        cfg = exchange_config(tmp_path, url, mode)
        args = ["run", str(cfg), "--mode", mode, "--state-dir", str(state)]
        if mode == "live":
            args.append("--live")
        env = live_env()
        first = start(cli(*args), env)
        try:
            wait_for_lock(first, state)
            m = MESSAGE.search(one_line_error(run(cli(*args), env)))
            assert m is not None and int(m.group(1)) == first.pid
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        # the kernel released the lock with the process: a new start takes it
        second = start(cli(*args), env)
        try:
            wait_for_lock(second, state)
            assert (state / "bot.lock").read_text().strip() == str(second.pid)
        finally:
            second.send_signal(signal.SIGKILL)
            second.wait(30)
    assert os.path.exists(state / "bot.sqlite")
