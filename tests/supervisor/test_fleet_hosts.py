"""A grouped fleet (several bots per OS process): host kill -9, per-bot locks, crash isolation."""

from __future__ import annotations

import json
import os
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
    make_fleet,
    processes_under,
    same_as_backtest,
    status,
    wait_for,
)

START, END = "2023-04-03", "2023-04-04"  # one day: 80-160 trades per scalper, 3-6 per swing bot
REPLAY = ["--speed", "3000", "--from", START, "--to", END]  # about 30 s: time for a host kill
FAST = ["--speed", "12000", "--from", START, "--to", END]  # about 7 s: mates run past a crash
SIX = NINE[:3] + NINE[6:]  # three scalpers, three swing bots


def _pids(folder: Path) -> dict[str, int | None]:
    """The pid ``fleet status`` shows per bot."""
    return {n: s["pid"] for n, s in status(folder).items()}


def test_kill_of_a_host_restarts_its_bots_only_and_loses_no_trade(tmp_path: Path) -> None:
    """Six bots, three per process: kill -9 one host; its three come back, the others untouched."""
    root = tmp_path / "state"
    settings = {
        "mode": "replay",
        "state_root": str(root),
        "stagger_s": 0.2,
        "allow_shared_pairs": True,
        "backoff_s": 1,
        "backoff_max_s": 4,
        "bots_per_process": 3,
    }
    folder = make_fleet(tmp_path / "fleet", SIX, settings)
    try:
        out = cli("fleet", "start", str(folder), *REPLAY)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: all(s["up"] for s in status(folder).values()), 60, "6 bots up")
        pids = _pids(folder)
        hosts = sorted(set(pids.values()), key=lambda p: p or 0)
        assert len(hosts) == 2, pids  # two processes, three bots each
        assert all(list(pids.values()).count(h) == 3 for h in hosts)
        victim_host = pids["OptiScalp_A"]
        assert victim_host is not None
        mates = sorted(n for n, p in pids.items() if p == victim_host)
        others = {n: p for n, p in pids.items() if p != victim_host}
        # a second process on one state folder is still refused (the host holds bot.lock)
        cfg = str(folder / "OptiScalp_B.json")
        second = cli("run", cfg, "--mode", "replay", "--state-dir", str(root / "OptiScalp_B"))
        assert second.returncode == 2 and "already running" in second.stderr, second.stderr
        os.kill(victim_host, signal.SIGKILL)
        t0 = time.monotonic()
        wait_for(
            lambda: all(
                p not in (None, victim_host) or status(folder)[n]["state"] == "finished"
                for n, p in ((m, _pids(folder)[m]) for m in mates)
            ),
            60,  # a restart lost or waiting for a wrong back-off never comes; 15 s was tight
            "the killed host's bots running again within the back-off window",
        )
        assert time.monotonic() - t0 < 60
        now = _pids(folder)
        assert {n: now[n] for n in others if now[n] is not None} == {
            n: p for n, p in others.items() if now[n] is not None
        }, "the other host was touched"
        while any(s["state"] != "finished" for s in status(folder).values()):
            twice = {d: p for d, p in bot_processes(root).items() if len(p) > 1}
            assert not twice, f"bots running twice: {twice}"
            assert time.monotonic() - t0 < 400, status(folder)
            time.sleep(1.0)
        out = cli("fleet", "stop", str(folder))
        assert out.returncode == 0, out.stderr
        assert processes_under(root) == {}, "fleet stop left processes behind"
    finally:
        kill_all_under(root)
    notes = fleet_notes(root)
    for name in mates:
        assert any(k == "restart" and b == name for k, b, _ in notes), (name, notes)
    for name in others:
        assert not any(k == "restart" and b == name for k, b, _ in notes), (name, notes)
    same_as_backtest(folder, root, START, END)


def test_a_failing_bot_does_not_take_down_its_host_mates(tmp_path: Path) -> None:
    """One bot of a host cannot start (damaged store): the host retries then gives it up alone."""
    root = tmp_path / "state"
    settings = {
        "mode": "replay",
        "state_root": str(root),
        "stagger_s": 0,
        "allow_shared_pairs": True,
        "backoff_s": 0.2,
        "max_restarts_per_hour": 2,
    }
    folder = make_fleet(tmp_path / "fleet", SIX[:3], settings)  # default bots_per_process
    broken = root / "OptiScalp_B"
    broken.mkdir(parents=True)
    (broken / "bot.sqlite").write_bytes(b"this is not a database" * 100)
    out = cli("fleet", "run", str(folder), *FAST, timeout=400)
    try:
        assert out.returncode == 0, out.stderr  # a replay fleet ends when every bot ended
        state = json.loads((root / "fleet_state.json").read_text())
        assert [b["state"] for b in state["bots"].values()] == ["finished", "gave_up", "finished"]
        assert (root / "hosts" / "host_0.log").exists()  # the three shared one process
        kinds = [(k, b) for k, b, _ in fleet_notes(root)]
        assert ("restart", "OptiScalp_B") in kinds and ("giveup", "OptiScalp_B") in kinds
        assert not any(b != "OptiScalp_B" for k, b in kinds if k in ("restart", "giveup"))
        console = (broken / "console.log").read_text()
        assert "bot.sqlite" in console  # its own console names its problem
        same_as_backtest(folder, root, START, END, skip=("OptiScalp_B",))
        assert processes_under(root) == {}
    finally:
        kill_all_under(root)


def test_bots_per_process_must_be_a_positive_whole_number(tmp_path: Path) -> None:
    """``bots_per_process: 0`` is refused before anything starts, one line naming it."""
    folder = make_fleet(tmp_path / "fleet", SIX[:1], {"bots_per_process": 0})
    out = cli("fleet", "check", str(folder))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = out.stderr.strip()
    assert "fleet.json" in line and "bots_per_process = 0" in line and "1" in line, line
    ok = cli("fleet", "check", str(folder), "--mode", "replay")
    assert ok.returncode == 2  # the key stays wrong whatever the mode


def test_a_bad_flag_value_is_named_as_the_flag_not_as_fleet_json(tmp_path: Path) -> None:
    """``--bots-per-process 0`` and ``--stagger -3`` name the flag, not the (valid) fleet.json."""
    folder = make_fleet(tmp_path / "fleet", SIX[:1], {"bots_per_process": 2})
    for flag, value, named in (
        ("--bots-per-process", "0", "--bots-per-process 0"),
        ("--stagger", "-3", "--stagger -3.0"),
    ):
        out = cli("fleet", "run", str(folder), "--mode", "replay", flag, value)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        line = out.stderr.strip()
        assert len(line.splitlines()) == 1 and named in line and "fleet.json" not in line, line
