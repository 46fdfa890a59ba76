"""Stopping a bot from a command: SIGTERM to the pid its ``bot.lock`` holds."""

from __future__ import annotations

import logging
import os
import signal

from optiflow.adapters.files.statedir import running_pid
from optiflow.queries.view import BotView

log = logging.getLogger("optiflow.telegram")


def stop_by_signal(view: BotView) -> str:
    """Send SIGTERM to the bot's process (it stops between cycles, announced); say so."""
    pid = running_pid(view.state_dir)  # only a pid whose lock is held: never a stale one
    if pid is None or pid <= 0:
        return f"{view.name} is not running"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return f"{view.name} is not running (pid {pid} is gone)"
    except PermissionError:
        return f"{view.name}: not allowed to signal pid {pid}"
    log.warning("%s: shutdown requested by a command; SIGTERM sent to pid %d", view.name, pid)
    return f"🛑 {view.name}: shutdown requested (pid {pid}); it stops after the current cycle"
