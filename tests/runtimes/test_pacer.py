"""A stop request ends a paced replay's wait for its next candle at once (not a bar later)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from optiflow.runtimes.pacer import Pacer

REPO = Path(__file__).resolve().parents[2]


def test_interrupt_ends_the_wait_for_a_candle_a_minute_away() -> None:
    """At 1x the next 1m candle is 60 s away; ``interrupt`` ends the wait, and later ones."""
    pacer = Pacer(1.0, time.monotonic)

    async def go() -> tuple[float, float]:
        await pacer.wait(0)  # the origin
        t0 = time.monotonic()
        asyncio.get_running_loop().call_later(0.1, pacer.interrupt)
        await pacer.wait(60_000)
        t1 = time.monotonic()
        await pacer.wait(120_000)
        return t1 - t0, time.monotonic() - t1

    first, later = asyncio.run(go())
    assert 0.05 < first < 10 and later < 1


def test_sigterm_stops_a_1x_replay_between_candles(tmp_path: Path) -> None:
    """`optiflow run --mode replay --speed 1`: SIGTERM between two candles: exit 0 at once."""
    state = tmp_path / "st"
    proc = subprocess.Popen(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", "run", "A", "--mode", "replay",
         "--speed", "1", "--from", "2023-04-03", "--to", "2023-04-04", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    log = state / "logs" / "OptiScalp_A" / "bot.log"  # "starting" is said once the run began
    while not (log.exists() and "starting: replay" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-2000:]
        time.sleep(0.05)
    time.sleep(1.0)  # past the first candle: waiting for the next, a minute away
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out[-2000:]
    assert time.monotonic() - t0 < 15, "the stop waited for the next candle"
    assert "stopped cleanly" in out
