"""``optiflow run`` in paper and live mode as real processes: guards, keys, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
KEY, SECRET = "key-FLEETTEST-7788", "secret-NEVER-SHOW-ME-5566"


def write_config(tmp: Path, url: str, mode: str = "paper") -> Path:
    """A BTC bot pointed at the fake, cycling every second."""
    cfg = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    cfg.update(pairs=["BTC/USDT"], interval_s=1, mode=mode)
    cfg["exchange"]["api_base_url"] = url
    path = tmp / "bot.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture
def fake_url() -> Iterator[str]:
    """The standalone fake Binance as a separate process."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "fakes" / "binance.py"),
            "--port",
            "0",
            "--print-port",
            "--api-key",
            KEY,
            "--secret",
            SECRET,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["port"]
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def optiflow(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def test_live_needs_config_mode_and_flag(tmp_path: Path) -> None:
    """--mode live without mode: live in the config (or without --live) is refused, exit 2."""
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    r = optiflow("run", str(cfg), "--mode", "live", "--live", "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "mode: live" in r.stderr and "Traceback" not in r.stderr
    live_cfg = write_config(tmp_path, "http://127.0.0.1:9", mode="live")
    r = optiflow("run", str(live_cfg), "--mode", "live", "--state-dir", str(tmp_path / "s"))
    assert r.returncode == 2 and "--live" in r.stderr


def test_world_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    """A secrets file others can read is refused with the chmod to run; keys not printed."""
    cfg = write_config(tmp_path, "http://127.0.0.1:9", mode="live")
    secrets = tmp_path / "keys.json"
    secrets.write_text(json.dumps({"api_key": KEY, "secret": SECRET}))
    secrets.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIFLOW_API")}
    r = optiflow(
        "run",
        str(cfg),
        "--mode",
        "live",
        "--live",
        "--secrets",
        str(secrets),
        "--state-dir",
        str(tmp_path / "s"),
        env=env,
    )
    assert r.returncode == 2 and "chmod 600" in r.stderr
    assert SECRET not in r.stderr + r.stdout and KEY not in r.stderr + r.stdout
    r = optiflow(
        "run", str(cfg), "--mode", "live", "--live", "--state-dir", str(tmp_path / "s"), env=env
    )
    assert r.returncode == 2 and "OPTIFLOW_API_KEY" in r.stderr


def cycles(summary: Path) -> int:
    """The bot's cycle count in its monitoring summary (0 before the file is there)."""
    try:
        return int(json.loads(summary.read_text())["bot"]["cycles"])
    except (OSError, ValueError, KeyError):
        return 0


def run_until_cycles(cmd: list[str], env: dict[str, str], state: Path) -> tuple[int, str]:
    """Start the bot, wait for a few cycles, SIGTERM it; (exit code, all output)."""
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO
    )
    deadline = time.monotonic() + 60
    summary = state / "debug_monitoring_summary.json"
    while time.monotonic() < deadline:
        if cycles(summary) >= 3:  # (the text '"cycles": 3' may be skipped: it waited for 30)
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return proc.returncode, out


def test_paper_runs_on_live_data_and_stops_cleanly(tmp_path: Path, fake_url: str) -> None:
    """Paper mode cycles on the exchange's public data and SIGTERM stops it with exit 0."""
    cfg = write_config(tmp_path, fake_url)
    state = tmp_path / "state"
    code, out = run_until_cycles(
        [
            sys.executable,
            "-m",
            "optiflow.interfaces.cli.main",
            "run",
            str(cfg),
            "--mode",
            "paper",
            "--state-dir",
            str(state),
        ],
        dict(os.environ),
        state,
    )
    assert code == 0, out[-3000:]
    assert "Bot shutting down" in out
    assert (state / "bot.sqlite").exists() and (state / "active_trades.json").exists()


def test_live_keys_never_reach_logs_or_files(tmp_path: Path, fake_url: str) -> None:
    """Live mode with keys from the environment: the keys appear in no output, log or file."""
    cfg = write_config(tmp_path, fake_url, mode="live")
    state = tmp_path / "state"
    env = {**os.environ, "OPTIFLOW_API_KEY": KEY, "OPTIFLOW_API_SECRET": SECRET}
    code, out = run_until_cycles(
        [
            sys.executable,
            "-m",
            "optiflow.interfaces.cli.main",
            "run",
            str(cfg),
            "--mode",
            "live",
            "--live",
            "--state-dir",
            str(state),
        ],
        env,
        state,
    )
    assert code == 0, out[-3000:]
    assert KEY not in out and SECRET not in out
    for path in state.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data and SECRET.encode() not in data, path


def test_sigterm_while_sleeping_between_cycles_stops_within_2s(
    tmp_path: Path, fake_url: str
) -> None:
    """A paper bot asleep in its 60 s interval stops at once on SIGTERM (not a cycle later)."""
    cfg = json.loads(write_config(tmp_path, fake_url).read_text())
    cfg["interval_s"] = 60  # a stop that waited for the next cycle would take ~58 s
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(cfg))
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "run", str(path),
           "--mode", "paper", "--state-dir", str(state), "--no-websocket"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO
    )
    summary = state / "debug_monitoring_summary.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if summary.exists() and '"cycles": 1' in summary.read_text():
            break
        time.sleep(0.1)
    time.sleep(1.0)  # well inside the 60 s sleep
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=45)
    took = time.monotonic() - t0
    assert proc.returncode == 0, out[-2000:]
    assert took < 10.0, f"stopped after {took:.1f} s"  # ~2 s even on a busy machine
    assert "stopped cleanly" in out
