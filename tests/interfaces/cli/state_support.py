"""Helpers of the state-folder tests: the CLI as a process, a held lock, small mounts."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "configs" / "runtime_config_optiscalpA.json"
START, END = "2023-04-03", "2023-04-05"
KEY, SECRET = "key-LOCKTEST-1234", "secret-LOCKTEST-5678"


def cli(*args: str) -> list[str]:
    """The command line of ``optiflow ARGS``."""
    return [sys.executable, "-m", "optiflow.interfaces.cli.main", *args]


def replay_args(state: Path, speed: str = "0", end: str = END) -> list[str]:
    """``optiflow run A --mode replay`` on a short window of the bundled data."""
    return cli(
        "run",
        str(CONFIG),
        "--mode",
        "replay",
        "--speed",
        speed,
        "--from",
        START,
        "--to",
        end,
        "--state-dir",
        str(state),
    )


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (stdin closed: not a terminal)."""
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a command in the background."""
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


def wait_for_lock(proc: subprocess.Popen[str], state: Path, timeout: float = 60) -> None:
    """Wait until `proc` holds the state folder's lock (its pid is in bot.lock)."""
    lock = state / "bot.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0][-2000:]
        with contextlib.suppress(OSError):
            if lock.read_text().strip() == str(proc.pid) and (state / "bot.sqlite").exists():
                return
        time.sleep(0.05)
    raise AssertionError("the bot never took its lock")


def one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    """The single error line of a refused command (asserts exit 2, no traceback)."""
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stderr + r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    opts = ",".join((f"size={size}", *options))
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount rights): {r.stderr}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount_read_only(where: Path) -> None:
    """Make a mounted tmpfs read-only."""
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)


def fill_up(folder: Path) -> None:
    """Write a filler file until the file system is full."""
    chunk = b"\0" * 65536
    with (folder / "filler").open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(chunk)
            fh.flush()


@contextlib.contextmanager
def fake_binance() -> Iterator[str]:
    """The standalone fake Binance as a separate process; yields its base URL."""
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
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def exchange_config(tmp: Path, url: str, mode: str) -> Path:
    """A BTC bot pointed at the fake, cycling every second."""
    cfg = json.loads(CONFIG.read_text())
    cfg.update(pairs=["BTC/USDT"], interval_s=1, mode=mode)
    cfg["exchange"]["api_base_url"] = url
    path = tmp / f"bot-{mode}.json"
    path.write_text(json.dumps(cfg))
    return path


def live_env() -> dict[str, str]:
    """The environment with the fake's API keys."""
    return {**os.environ, "OPTIFLOW_API_KEY": KEY, "OPTIFLOW_API_SECRET": SECRET}
