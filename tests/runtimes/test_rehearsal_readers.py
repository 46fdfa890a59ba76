"""A running rehearsal's store stays readable: `state show` and `ask` answer while it runs."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.interfaces.cli.state_support import (  # noqa: E402
    CONFIG,
    END,
    START,
    cli,
    run,
    start,
    wait_for_lock,
)


def _committed(state: Path) -> bool:
    """Whether the store holds a committed snapshot (read as the status readers do)."""
    with contextlib.suppress(sqlite3.Error):
        conn = sqlite3.connect(f"file:{state / 'bot.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT 1 FROM snapshot WHERE id = 1").fetchone() is not None
        finally:
            conn.close()
    return False


def test_state_show_and_ask_read_a_running_rehearsal(tmp_path: Path) -> None:
    """While a rehearsal runs, `state show` and `ask /summary` read its store (not locked)."""
    state = tmp_path / "state"
    args = ["run", str(CONFIG), "--mode", "rehearsal", "--speed", "3000"]
    proc = start(cli(*args, "--from", START, "--to", END, "--state-dir", str(state)))
    try:
        wait_for_lock(proc, state)
        deadline = time.monotonic() + 30
        while not _committed(state):
            assert time.monotonic() < deadline, "no committed snapshot readable in 30 s"
            assert proc.poll() is None, proc.communicate()[0][-2000:]
            time.sleep(0.05)
        show = run(cli("state", "show", str(CONFIG), "--state-dir", str(state)))
        assert show.returncode == 0 and "OptiScalp_A" in show.stdout, show.stderr[-2000:]
        assert "position:" in show.stdout, show.stdout[-2000:]
        ask = run(cli("ask", str(CONFIG), "/summary", "--state-dir", str(state)))
        assert ask.returncode == 0 and ask.stdout.strip(), ask.stderr[-2000:]
        assert proc.poll() is None, "the rehearsal ended before the readers ran"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
