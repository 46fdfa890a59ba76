"""Helpers for the Telegram tests: configs with a telegram section, CLI runs, a replay bot."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
TOKEN = "123456789:AAFakeTokenForTests_0123456789abcdef"
CHAT = 1001
OTHER_CHAT = 1002
STRANGER = 666


def write_config(folder: Path, base_url: str, name: str = "OptiScalp_A", **telegram: Any) -> Path:
    """Preset A under ``name`` with telegram on, pointed at ``base_url``."""
    data = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    data["name"] = name
    data["telegram"] = {"enabled": True, "chat_ids": [CHAT], "base_url": base_url} | telegram
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def env(token: str | None = TOKEN) -> dict[str, str]:
    """The environment for a CLI child, with (or without) the token."""
    out = {k: v for k, v in os.environ.items() if k != "OPTIFLOW_TELEGRAM_TOKEN"}
    if token is not None:
        out["OPTIFLOW_TELEGRAM_TOKEN"] = token
    return out


def optiflow(
    *args: str, token: str | None = TOKEN, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(token),
        cwd=REPO,
    )


def start(*args: str, token: str | None = TOKEN) -> subprocess.Popen[str]:
    """Start the CLI in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(token),
        cwd=REPO,
    )


def wait_for(cond: Callable[[], object], timeout: float = 30, what: str = "") -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or cond}")


def db(state: Path) -> sqlite3.Connection:
    """A read-only connection to a bot's store."""
    return sqlite3.connect(f"file:{state / 'bot.sqlite'}?mode=ro", uri=True)


def note_texts(state: Path) -> list[str]:
    """Every note's text in the bot's outbox, in order."""
    with db(state) as conn:
        return [r[0] for r in conn.execute("SELECT text FROM notes ORDER BY id")]


def snapshot(state: Path) -> dict[str, Any]:
    """The bot's stored engine snapshot."""
    with db(state) as conn:
        row = conn.execute("SELECT state FROM snapshot WHERE id = 1").fetchone()
    return dict(json.loads(row[0]))


def _holding(trades: Path) -> bool:
    """True when active_trades.json lists a position."""
    try:
        return len(json.loads(trades.read_text())) > 0
    except (OSError, ValueError):
        return False


def replay_with_open_positions(cfg: Path, state: Path, token: str | None = None) -> None:
    """A replay stopped (SIGTERM) while it holds open positions, after closed trades."""
    for _ in range(10):
        proc = start(
            "run", str(cfg), "--mode", "replay", "--speed", "20000", "--no-telegram",
            "--from", "2023-03-16", "--state-dir", str(state), token=token,
        )  # fmt: skip
        time.sleep(1.5)
        end = time.monotonic() + 60
        while not _holding(state / "active_trades.json") and proc.poll() is None:
            assert time.monotonic() < end, "no open position within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        if snapshot(state)["bot"]["positions"]:
            return
    raise AssertionError("no replay stop found an open position")
