"""The supervisor's files under the state root: its lock, its live view and restart requests.

- ``fleet.lock``: an exclusive flock held by the running supervisor, holding its pid; a
  second supervisor on the same state root is refused.
- ``fleet_state.json``: per bot ``state`` (pending, running, stopping, backoff, finished,
  gave_up, stopped), ``pid``, ``started_at``, ``restarts``, ``restart_times``, ``last_exit``,
  ``config`` and ``state_dir``; plus ``supervisor_pid``, ``fleet_dir``, ``mode``,
  ``telegram_pid``. Written atomically whenever it changes.
- ``fleet_requests/NAME.restart``: written by ``optiflow fleet restart``; the supervisor
  restarts that bot and deletes the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from optiflow.adapters.files.statedir import PidLock
from optiflow.supervisor.spec import Fleet

LOCK = "fleet.lock"
STATE = "fleet_state.json"
REQUESTS = "fleet_requests"


class FleetLock(PidLock):
    """The supervisor's exclusive flock on ``<root>/fleet.lock`` (with its pid)."""

    def __init__(self, root: Path) -> None:
        """Prepare the lock of state root `root`."""
        super().__init__(root / LOCK)

    def refused(self, pid: int | None) -> str:
        """A supervisor already runs this fleet."""
        return (
            f"a fleet supervisor is already running for state root {self.path.parent} "
            f"(pid {pid or '?'}); see optiflow fleet status"
        )


_last_written: dict[Path, str] = {}


def write_state(root: Path, fleet: Fleet, bots: dict[str, Any], telegram_pid: int | None) -> None:
    """Write ``fleet_state.json`` atomically when its content changed."""
    doc = {
        "supervisor_pid": os.getpid(),
        "fleet_dir": str(fleet.folder.resolve()),
        "mode": fleet.settings.mode,
        "telegram_pid": telegram_pid,
        "bots": bots,
    }
    text = json.dumps(doc, indent=1, sort_keys=True)
    path = root / STATE
    if _last_written.get(path) == text:
        return
    fd, tmp = tempfile.mkstemp(prefix=".fleet_state.", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        _last_written[path] = text
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def read_state(root: Path) -> dict[str, Any]:
    """The last ``fleet_state.json`` of `root` ({} when absent or unreadable)."""
    try:
        doc = json.loads((root / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def request_restart(root: Path, name: str) -> Path:
    """Ask the running supervisor to restart bot `name`; returns the request file."""
    folder = root / REQUESTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.restart"
    path.write_text("restart\n", encoding="ascii")
    return path


def read_snapshot(state_dir: Path) -> dict[str, Any] | None:
    """The bot's last committed snapshot (read-only; None without a readable store)."""
    db = state_dir / "bot.sqlite"
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT state, cursor FROM snapshot WHERE id = 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    snap = json.loads(row[0])
    snap["_cursor"] = json.loads(row[1]) if row[1] else None
    return snap if isinstance(snap, dict) else None


def replay_done(state_dir: Path) -> bool:
    """True when the bot's store holds a replay that ran to the end of its data."""
    snap = read_snapshot(state_dir)
    return bool(snap and snap.get("done"))
