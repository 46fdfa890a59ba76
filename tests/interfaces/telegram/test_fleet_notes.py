"""`optiflow telegram --state-root` delivers the fleet supervisor's notes once, in order."""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from optiflow.supervisor.outbox import Outbox, pending_notes  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.interfaces.telegram.support import (  # noqa: E402
    CHAT,
    TOKEN,
    optiflow,
    start,
    wait_for,
    write_config,
)


def fleet_lines(fake: FakeTelegram) -> list[str]:
    """Every fleet note line delivered to CHAT, in order."""
    lines: list[str] = []
    for text in fake.texts(CHAT):
        head, *rest = text.split("\n")
        if head == "<b>fleet</b>":
            lines += rest
    return lines


def readers(root: Path) -> dict[str, int]:
    """The reader cursors in fleet.sqlite."""
    with sqlite3.connect(root / "fleet.sqlite") as conn:
        return dict(conn.execute("SELECT name, last_id FROM readers").fetchall())


def test_fleet_notes_survive_an_outage_and_a_kill_9(fake: FakeTelegram, tmp_path: Path) -> None:
    """Notes before the start, during an outage and after a SIGKILL all arrive once, in order."""
    root = tmp_path / "state"
    cfg = write_config(tmp_path, fake.base_url, notify={"fleet_stuck": False})
    r = optiflow(
        "run", str(cfg), "--mode", "replay", "--speed", "0", "--no-telegram",
        "--to", "2023-03-17T01:00", "--state-dir", str(root / "OptiScalp_A"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    outbox = Outbox(root)  # the supervisor's own writer
    expected: list[str] = []

    def add(kind: str, text: str) -> None:
        outbox.add(kind, "OptiScalp_A", text)
        if kind != "stuck":
            expected.append(text)

    add("adopt", "👀 OptiScalp_A is already running (pid 1): adopted")
    add("restart", "🔁 OptiScalp_A restarted (exit 1), restart 1/5")
    service = start("telegram", "--state-root", str(root))
    try:
        wait_for(lambda: fleet_lines(fake) == expected, 60, f"the first notes: {fake.texts(CHAT)}")
        fake.down = True
        add("stuck", "⏳ OptiScalp_A silent for 300 s: stopped")
        for i in range(4):
            add("restart", f"🔁 OptiScalp_A restarted (exit -9), restart {i + 2}/5")
        time.sleep(3)
        assert fleet_lines(fake) == expected[:2]
        service.kill()  # SIGKILL with undelivered notes
        service.communicate(timeout=30)
        fake.down = False
        add("giveup", "⛔ OptiScalp_A gave up after 5 restarts in an hour")
        # 5 restarts/give-up wait; the switched-off "stuck" note waits too unless the service
        # already stepped over it (it needs no delivery, so it may pass it while Telegram is down)
        assert pending_notes(root) in (5, 6)
        service = start("telegram", "--state-root", str(root))
        wait_for(lambda: len(fleet_lines(fake)) >= len(expected), 60, "the notes after restart")
        time.sleep(2)  # nothing more may come
        assert fleet_lines(fake) == expected  # in order, none lost, none twice, stuck off
        cursors = readers(root)
        assert cursors["telegram"] == cursors[f"telegram:{CHAT}"] == 8
        assert pending_notes(root) == 0
    finally:
        outbox.close()
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err
    assert TOKEN not in err
