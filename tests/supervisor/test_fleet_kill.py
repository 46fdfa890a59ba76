"""A 9-bot replay fleet survives SIGKILLs of bots and of its supervisor, losing no trade."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.supervisor.fleet_support import (  # noqa: E402
    NINE,
    bot_processes,
    cli,
    fleet_notes,
    kill_all_under,
    lock_pid,
    make_fleet,
    processes_under,
    same_as_backtest,
    status,
    wait_for,
)

START, END = "2023-04-03", "2023-04-04"  # one day: 80-160 trades per scalper, 3-6 per swing bot
SPEED = "3000"  # one day of 1m candles in about 30 s


def _no_bot_twice(root: Path) -> None:
    """At most one live process per bot state folder."""
    twice = {d: p for d, p in bot_processes(root).items() if len(p) > 1}
    assert not twice, f"bots running twice: {twice}"


def test_nine_bot_fleet_survives_kills_of_bots_and_supervisor(tmp_path: Path) -> None:
    """SIGKILL two bots then the supervisor; a new supervisor adopts, restarts, loses nothing."""
    rng = random.Random(int(os.environ.get("OPTIFLOW_FLEET_SEED", "20261126")))
    root = tmp_path / "state"
    folder = make_fleet(
        tmp_path / "fleet",
        NINE,
        {
            "mode": "replay",
            "state_root": str(root),
            "stagger_s": 0.2,
            "allow_shared_pairs": True,
            "backoff_s": 1,
            "backoff_max_s": 4,
        },
    )
    replay = ["--speed", SPEED, "--from", START, "--to", END]
    try:
        out = cli("fleet", "start", str(folder), *replay)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: all(s["up"] for s in status(folder).values()), 60, "9 bots up")
        names = [name for _, name, _ in NINE]
        victims = rng.sample(names, 2)
        for victim in victims:  # with bots_per_process > 1: the victim's whole host process
            time.sleep(rng.uniform(1.0, 4.0))
            with contextlib.suppress(ProcessLookupError):  # its host may be down already
                os.kill(lock_pid(root / victim / "bot.lock"), signal.SIGKILL)
        time.sleep(rng.uniform(0.2, 2.0))
        before = bot_processes(root)
        supervisor = lock_pid(root / "fleet.lock")
        os.kill(supervisor, signal.SIGKILL)
        time.sleep(1.0)
        survivors = bot_processes(root)
        stopped = {d: p for d, p in before.items() if not set(p) <= set(survivors.get(d, []))}
        assert not stopped, f"killing the supervisor stopped bots: {stopped}"
        out = cli("fleet", "start", str(folder), *replay)
        assert out.returncode == 0, out.stderr
        t0 = time.monotonic()
        wait_for(
            lambda: all(s["state"] in ("running", "finished") for s in status(folder).values()),
            60,  # a restart lost or waiting for a wrong back-off never comes; 15 s was tight
            "every bot running again within the back-off window",
        )
        assert time.monotonic() - t0 < 60
        while any(s["state"] != "finished" for s in status(folder).values()):
            _no_bot_twice(root)
            assert time.monotonic() - t0 < 400, status(folder)
            time.sleep(1.0)
        out = cli("fleet", "stop", str(folder))
        assert out.returncode == 0, out.stderr
        assert processes_under(root) == {}, "fleet stop left processes behind"
    finally:
        kill_all_under(root)
    notes = fleet_notes(root)
    for victim in victims:
        assert any(k == "restart" and b == victim for k, b, _ in notes), (victim, notes)
    adopted = sum(k == "adopt" for k, _, _ in notes)
    assert adopted >= len(before)  # the running bots were adopted
    same_as_backtest(folder, root, START, END)  # nothing lost or twice
