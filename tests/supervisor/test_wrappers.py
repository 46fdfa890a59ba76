"""bot_launcher.sh starts a fleet; restart.sh keeps its supervisor alive; the dashboard fits."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from optiflow.supervisor import metrics  # noqa: E402
from tests.supervisor.fleet_support import (  # noqa: E402
    cli,
    kill_all_under,
    lock_pid,
    make_fleet,
    processes_under,
    status,
    wait_for,
)

ONE = [("A", "OptiScalp_A", None)]
ENV = {**os.environ, "OPTIFLOW": str(Path(sys.executable).parent / "optiflow")}


def test_bot_launcher_starts_the_fleet_in_the_background(tmp_path: Path) -> None:
    """The launcher returns at once; the bots run detached until fleet stop."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", ONE, {"mode": "replay", "state_root": str(root)})
    try:
        res = subprocess.run(
            [str(REPO / "deploy" / "bot_launcher.sh"), str(folder), "--speed", "100"],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        wait_for(lambda: status(folder)["OptiScalp_A"]["up"], 60, "bot up")
        assert cli("fleet", "stop", str(folder)).returncode == 0
        assert processes_under(root) == {}
    finally:
        kill_all_under(root)


def test_restart_sh_restarts_a_killed_supervisor_and_ends_on_fleet_stop(tmp_path: Path) -> None:
    """kill -9 of the supervisor: restart.sh starts a new one that adopts the running bot."""
    root = tmp_path / "state"
    folder = make_fleet(tmp_path / "f", ONE, {"mode": "replay", "state_root": str(root)})
    env = {**ENV, "RESTART_PAUSE_S": "0.5"}
    keeper = subprocess.Popen(
        [str(REPO / "deploy" / "restart.sh"), str(folder), "--speed", "100"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: status(folder)["OptiScalp_A"]["up"], 60, "bot up")
        wait_for(lambda: (root / "fleet.lock").exists(), 30, "supervisor lock")
        first = lock_pid(root / "fleet.lock")
        bot = status(folder)["OptiScalp_A"]["pid"]
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: (
                cli("fleet", "status", str(folder)).stdout.count("supervisor pid") == 1
                and lock_pid(root / "fleet.lock") != first
            ),
            60,
            "a new supervisor",
        )
        assert status(folder)["OptiScalp_A"]["pid"] == bot  # adopted, not started twice
        assert cli("fleet", "stop", str(folder)).returncode == 0
        out, _ = keeper.communicate(timeout=60)
        assert keeper.returncode == 0, out
        assert "restarting in" in out and "not restarting" in out
        assert processes_under(root) == {}
    finally:
        keeper.kill()
        kill_all_under(root)


def test_grafana_dashboard_uses_the_served_series() -> None:
    """Every series the dashboard queries is one the supervisor serves, and all are shown."""
    dash = json.loads((REPO / "deploy" / "grafana" / "optiflow-fleet.json").read_text())
    used = {
        m
        for p in dash["panels"]
        for t in p["targets"]
        for m in re.findall(r"optiflow_[a-z_]+", t["expr"])
    }
    served = {f"optiflow_bot_{name}" for name, _, _ in metrics.GAUGES} | {
        "optiflow_bot_restarts_total",
        "optiflow_bot_orders",
        "optiflow_bot_errors",
        "optiflow_fleet_notifications_pending",
    }
    assert used <= served, used - served
    assert served - used <= {"optiflow_bot_uptime_seconds"}
