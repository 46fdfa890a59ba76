"""Fleet operations through the real CLI: status, metrics, restart, one supervisor, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.supervisor.fleet_support import (  # noqa: E402
    bot_processes,
    cli,
    fleet_notes,
    kill_all_under,
    lock_pid,
    make_fleet,
    processes_under,
    status,
    wait_for,
)

THREE = [
    ("A", "OptiScalp_A", None),
    ("B", "OptiScalp_B", None),
    ("S1", "Swing_1", ["XRP/USDT", "AVAX/USDT"]),
]
# 7 days at 6000x (about 100 s): the swing bot (5m bars) commits within about 10 s
REPLAY = ["--speed", "6000", "--from", "2023-04-03", "--to", "2023-04-10"]


def _free_port() -> int:
    """A free local TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the metrics endpoint, keyed by (name, sorted labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_status_metrics_restart_and_stop_of_a_running_fleet(tmp_path: Path) -> None:
    """Metrics match fleet status; one supervisor only; restart one bot; stop leaves nothing."""
    root = tmp_path / "state"
    port = _free_port()
    settings = {"mode": "replay", "state_root": str(root), "stagger_s": 0.2, "metrics_port": port}
    folder = make_fleet(tmp_path / "fleet", THREE, settings)
    try:
        out = cli("fleet", "start", str(folder), *REPLAY)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: all(s["up"] for s in status(folder).values()), 60, "3 bots up")
        again = cli("fleet", "run", str(folder), *REPLAY)
        assert again.returncode == 2 and "already running" in again.stderr, again.stderr
        again = cli("fleet", "start", str(folder), *REPLAY)
        assert again.returncode == 2 and "supervisor" in again.stderr, again.stderr
        wait_for(
            lambda: all(s["equity"] is not None for s in status(folder).values()),
            30,
            "a first commit of every bot",
        )
        pids = {n: s["pid"] for n, s in status(folder).items()}
        for pid in pids.values():
            os.kill(pid, signal.SIGSTOP)  # freeze the bots: status and scrape see one state
        try:
            doc = status(folder)
            metrics = _scrape(port)
        finally:
            for pid in pids.values():
                os.kill(pid, signal.SIGCONT)
        assert set(doc) == {"OptiScalp_A", "OptiScalp_B", "Swing_1"}
        for name, s in doc.items():
            bot = (("bot", name),)
            assert s["state"] == "running" and s["mode"] == "replay" and s["rss_mb"] > 10
            assert metrics[("optiflow_bot_up", bot)] == 1.0
            assert metrics[("optiflow_bot_restarts_total", bot)] == s["restarts"] == 0
            assert metrics[("optiflow_bot_open_positions", bot)] == s["open_positions"]
            assert abs(metrics[("optiflow_bot_net_pnl_usdt", bot)] - s["net_pnl"]) < 1e-9
            assert abs(metrics[("optiflow_bot_equity_usdt", bot)] - s["equity"]) < 1e-9
            today = metrics[("optiflow_bot_today_net_pnl_usdt", bot)]
            assert abs(today - s["today_net_pnl"]) < 1e-9
            assert abs(metrics[("optiflow_bot_rss_bytes", bot)] / 2**20 - s["rss_mb"]) < 5
            for st, n in s["orders"].items():
                assert metrics[("optiflow_bot_orders", (("bot", name), ("status", st)))] == n
            assert ("optiflow_bot_last_cycle_age_seconds", bot) in metrics
        assert ("optiflow_fleet_notifications_pending", ()) in metrics
        old = lock_pid(root / "OptiScalp_B" / "bot.lock")
        out = cli("fleet", "restart", str(folder), "OptiScalp_B")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: status(folder)["OptiScalp_B"]["pid"] not in (None, old), 30, "B restarted")
        assert any(k == "restart" and b == "OptiScalp_B" for k, b, _ in fleet_notes(root))
        assert "Bot shutting down" in (root / "OptiScalp_B" / "console.log").read_text()
        out = cli("fleet", "stop", str(folder))
        assert out.returncode == 0, out.stderr
        assert processes_under(root) == {}, "fleet stop left processes behind"
        after = status(folder)
        assert all(not s["up"] for s in after.values())
        for name in after:
            assert "stopped cleanly" in (root / name / "console.log").read_text()
    finally:
        kill_all_under(root)


def test_a_bot_that_always_crashes_is_given_up(tmp_path: Path) -> None:
    """Back-off restarts up to the hourly cap, then one give-up note; the others keep going."""
    root = tmp_path / "state"
    empty = tmp_path / "nodata"
    empty.mkdir()
    settings = {
        "mode": "replay",
        "state_root": str(root),
        "stagger_s": 0,
        "backoff_s": 0.2,
        "max_restarts_per_hour": 2,
        "exposure_cap_usdt": 1234,
        "telegram": True,
    }
    folder = make_fleet(tmp_path / "fleet", THREE[:1], settings)
    try:
        out = cli("fleet", "run", str(folder), "--data", str(empty), timeout=120)
        assert out.returncode == 0, out.stderr  # every bot ended: a replay fleet ends
        kinds = [(k, b) for k, b, _ in fleet_notes(root)]
        assert kinds.count(("restart", "OptiScalp_A")) == 2
        assert ("giveup", "OptiScalp_A") in kinds
        state = json.loads((root / "fleet_state.json").read_text())
        assert state["bots"]["OptiScalp_A"]["state"] == "gave_up"
        assert "exited with code 2" in state["bots"]["OptiScalp_A"]["last_exit"]
        if cli("telegram", "--help").returncode != 0:  # this install has no Telegram service
            assert "`optiflow telegram` is absent; skipped" in out.stderr
        limits = json.loads((root / ".shared" / "fleet_limits.json").read_text())
        assert limits == {"exposure_cap_usdt": 1234}  # what the bots' entries are checked against
    finally:
        kill_all_under(root)


def test_a_frozen_bot_is_restarted_by_the_heartbeat(tmp_path: Path) -> None:
    """A bot that stops committing (SIGSTOP) is killed and restarted; a note says it was stuck."""
    root = tmp_path / "state"
    settings = {"mode": "replay", "state_root": str(root), "heartbeat_s": 2, "backoff_s": 0.2}
    folder = make_fleet(tmp_path / "fleet", THREE[:1], settings)
    try:
        out = cli("fleet", "start", str(folder), "--speed", "0", "--from", "2023-04-03")
        assert out.returncode == 0, out.stderr
        wait_for(lambda: status(folder)["OptiScalp_A"]["up"], 60, "bot up")
        summary = root / "OptiScalp_A" / "debug_monitoring_summary.json"
        wait_for(summary.exists, 30, "first commit and state files")
        frozen = lock_pid(root / "OptiScalp_A" / "bot.lock")
        os.kill(frozen, signal.SIGSTOP)
        wait_for(
            lambda: status(folder)["OptiScalp_A"]["pid"] not in (None, frozen),
            60,
            "a new process for the frozen bot",
        )
        assert not any(frozen in p for p in bot_processes(root).values())
        kinds = [(k, b) for k, b, _ in fleet_notes(root)]
        assert ("stuck", "OptiScalp_A") in kinds and ("restart", "OptiScalp_A") in kinds
        assert cli("fleet", "stop", str(folder)).returncode == 0
        assert processes_under(root) == {}
    finally:
        kill_all_under(root)
