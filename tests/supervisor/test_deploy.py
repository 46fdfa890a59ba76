"""Generated deployment files: systemd verifies, supervisord runs a fleet, Docker/pm2 check."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.supervisor.fleet_support import (  # noqa: E402
    cli,
    kill_all_under,
    make_fleet,
    processes_under,
    status,
    wait_for,
)

TWO = [("A", "OptiScalp_A", None), ("B", "OptiScalp_B", None)]
BIN = Path(sys.executable).parent


def _deploy(target: str, folder: Path, out: Path) -> None:
    """Run ``optiflow deploy TARGET DIR --out OUT``."""
    res = cli("deploy", target, str(folder), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "install:" in res.stdout


def test_systemd_unit_verifies_and_stops_cleanly(tmp_path: Path) -> None:
    """The unit runs fleet run, restarts, waits long enough to stop, keeps secrets 0600."""
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(tmp_path / "s")})
    _deploy("systemd", folder, tmp_path / "out")
    unit = (tmp_path / "out" / "optiflow-fleet.service").read_text()
    assert f"fleet run {folder}" in unit and "Restart=always" in unit
    assert "KillMode=process" in unit and "KillSignal=SIGTERM" in unit
    stop_s = int(unit.split("TimeoutStopSec=")[1].split()[0])
    assert stop_s >= 60 + 10  # the supervisor's stop timeout plus its own margin
    env = tmp_path / "out" / "optiflow-fleet.env"
    assert f"EnvironmentFile=-{env}" in unit
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "WorkingDirectory=/" in unit
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    res = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "out" / "optiflow-fleet.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "optiflow-fleet.service" not in res.stderr, res.stderr  # no warning about it


def test_supervisord_loads_the_program_and_starts_and_stops_a_fleet(tmp_path: Path) -> None:
    """A real supervisord (PyPI) runs the generated program; stopping it leaves no process."""
    root = tmp_path / "state"
    settings = {"mode": "replay", "state_root": str(root), "stagger_s": 0.2}
    folder = make_fleet(tmp_path / "f", TWO, settings)
    _deploy("supervisor", folder, tmp_path / "out")
    sock = tmp_path / "sv.sock"
    conf = tmp_path / "supervisord.conf"
    conf.write_text(
        f"""[supervisord]
nodaemon=false
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
[unix_http_server]
file={sock}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{sock}
[include]
files={tmp_path}/out/optiflow-fleet.conf
"""
    )
    ctl = [str(BIN / "supervisorctl"), "-c", str(conf)]
    try:
        subprocess.run([str(BIN / "supervisord"), "-c", str(conf)], check=True, timeout=30)
        wait_for(lambda: sock.exists(), 20, "supervisord socket")
        wait_for(
            lambda: all(s["up"] for s in status(folder).values()), 60, "bots up under supervisord"
        )

        def running() -> bool:
            out = subprocess.run(ctl + ["status"], capture_output=True, text=True, check=False)
            return "optiflow-fleet" in out.stdout and "RUNNING" in out.stdout

        wait_for(running, 30, "supervisorctl status RUNNING (after startsecs)")
        t0 = time.monotonic()
        res = subprocess.run(
            ctl + ["stop", "optiflow-fleet"], capture_output=True, text=True, timeout=120
        )
        assert "stopped" in res.stdout, res.stdout + res.stderr
        # bots pacing a 1x replay stop at once, not after their next candle (60 s away)
        assert time.monotonic() - t0 < 30
        assert processes_under(root) == {}, "bots left behind after supervisorctl stop"
        for name in ("OptiScalp_A", "OptiScalp_B"):
            assert "stopped cleanly" in (root / name / "console.log").read_text()
    finally:
        subprocess.run(ctl + ["shutdown"], capture_output=True, timeout=60, check=False)
        kill_all_under(root)
        time.sleep(0.5)


def test_dockerfile_and_compose_are_well_formed(tmp_path: Path) -> None:
    """hadolint passes (when installed); exec form, STOPSIGNAL, volume; compose parses."""
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(tmp_path / "s"), "mode": "paper"})
    _deploy("docker", folder, tmp_path / "out")
    text = (tmp_path / "out" / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0].startswith("FROM python:3.11")
    entry = next(ln for ln in lines if ln.startswith("ENTRYPOINT"))
    assert json.loads(entry.split(" ", 1)[1]) == ["optiflow", "fleet", "run"]  # exec form
    assert json.loads(next(ln for ln in lines if ln.startswith("CMD")).split(" ", 1)[1])
    assert "STOPSIGNAL SIGTERM" in lines and any(ln.startswith("USER ") for ln in lines)
    assert 'VOLUME ["/state"]' in lines
    hadolint = shutil.which("hadolint") or str(BIN / "hadolint")
    if Path(hadolint).exists():
        res = subprocess.run([hadolint, str(tmp_path / "out" / "Dockerfile")], capture_output=True)
        assert res.returncode == 0, res.stdout.decode()
    compose = yaml.safe_load((tmp_path / "out" / "compose.yaml").read_text())
    svc = compose["services"]["fleet"]
    assert svc["init"] is True and svc["stop_signal"] == "SIGTERM"
    assert int(svc["stop_grace_period"].rstrip("s")) >= 70
    assert svc["command"][:2] == ["/fleet", "--mode"] and "paper" in svc["command"]
    assert f"{folder}:/fleet:ro" in svc["volumes"] and "optiflow-state:/state" in svc["volumes"]
    assert set(svc["environment"]) == {"OPTIFLOW_API_KEY", "OPTIFLOW_API_SECRET"}
    assert all(v.startswith("${") for v in svc["environment"].values())  # from the env
    assert Path(svc["build"]["context"], "pyproject.toml").exists()
    assert "optiflow-state" in compose["volumes"]


def test_pm2_ecosystem_runs_the_fleet(tmp_path: Path) -> None:
    """ecosystem.config.js loads (node when installed) and runs fleet run without tree-kill."""
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(tmp_path / "s")})
    _deploy("pm2", folder, tmp_path / "out")
    path = tmp_path / "out" / "ecosystem.config.js"
    body = path.read_text().split("module.exports = ", 1)[1].rstrip().rstrip(";")
    app = json.loads(body)["apps"][0]
    assert app["args"][:3] == ["fleet", "run", str(folder)] and app["treekill"] is False
    assert app["kill_timeout"] >= 70_000 and app["interpreter"] == "none"
    assert Path(app["script"]).exists()
    if shutil.which("node"):
        code = f"const c = require({json.dumps(str(path))}); console.log(c.apps[0].name)"
        res = subprocess.run(["node", "-e", code], capture_output=True, text=True, check=False)
        assert res.stdout.strip() == "optiflow-fleet", res.stderr


def test_unknown_deploy_target_is_refused(tmp_path: Path) -> None:
    """deploy k8s: one line listing the allowed targets, exit 2."""
    folder = make_fleet(tmp_path / "f", TWO, {"state_root": str(tmp_path / "s")})
    res = cli("deploy", "k8s", str(folder), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "systemd, supervisor, pm2, docker" in res.stderr
