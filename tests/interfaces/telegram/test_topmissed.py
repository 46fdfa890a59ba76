"""/topmissed end to end: a replay's stored shadows ranked, via ``optiflow ask``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "optiflow.interfaces.cli.main", *args],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip


def test_topmissed_ranks_the_stores_shadows(tmp_path: Path) -> None:
    """After a finished replay, /topmissed lists the store's best shadows, best first, with
    pair, time, blocking filters, net PnL and exit reason; /topmissed 3 the first three."""
    data = json.loads((REPO / "configs" / "runtime_config_optiscalpA.json").read_text())
    data.pop("telegram", None)
    cfg = tmp_path / "OptiScalp_A.json"
    cfg.write_text(json.dumps(data))
    state = tmp_path / "state"
    run = cli("run", str(cfg), "--mode", "replay", "--speed", "0", "--no-telegram",
              "--from", "2023-04-03", "--to", "2023-04-05", "--state-dir", str(state))  # fmt: skip
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(state / "bot.sqlite") as conn:
        rows = conn.execute(
            "SELECT symbol, ts_signal, reasons, net_pnl, exit_reason FROM shadows"
        ).fetchall()
    assert len(rows) > 10
    best = sorted(rows, key=lambda r: (-Decimal(r[3]), r[1], r[0]))
    out = cli("ask", str(cfg), "/topmissed", "--state-dir", str(state))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "OptiScalp_A"  # the bot answering
    lines = lines[1:]
    assert lines[0] == f"top 10 of {len(rows)} shadows:"
    for line, (sym, ts, reasons, net, why) in zip(lines[1:], best[:10], strict=True):
        when = datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        want = f"{when} {sym} blocked by {reasons.replace(',', '+')}: "
        assert line == f"{want}shadow {Decimal(net):+.2f} USDT ({why})"
    assert Decimal(best[0][3]) > 0  # the biggest missed winner leads
    three = cli("ask", str(cfg), "/topmissed 3", "--state-dir", str(state))
    assert three.stdout.strip().splitlines()[2:] == lines[1:4]
