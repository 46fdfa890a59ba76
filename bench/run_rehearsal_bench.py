"""Rehearsal speed benchmark (issue 8, "Numbers").

Runs ``RehearsalRuntime(..., speed=0).run()``: the live runtime itself (cycle, executor,
exchange stops, store commits, state files) on the bundled Binance 1m candles, with the
simulated clock and exchange, for

* ``one``: preset A on BTC/ETH/ADA;
* ``fleet``: A, B and C, each on its own three pairs, one after another in one process.

Each case runs in a fresh child process (its peak RSS is its own ``ru_maxrss``) with a fresh
state folder (SQLite store + the simulated exchange's file) in a temp dir. Candles/s =
candles played / wall time of ``run()`` (start-up reconciliation included, file loading
excluded); candles per CPU-second = candles / ``time.process_time()`` of ``run()``
(what other load on a shared machine moves least). The trade count is checked against
``run_backtest(..., entries_at_once=True)``.

Usage (from the repository root)::

    .venv/bin/python bench/run_rehearsal_bench.py              # 7 days
    .venv/bin/python bench/run_rehearsal_bench.py --days 2     # smoke run

Results go to stdout and to ``bench/results/rehearsal.json`` (or ``--out FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "binance_spot_1m"
CASES = {
    "one": ["runtime_config_optiscalpA.json"],
    "fleet": [
        "runtime_config_optiscalpA.json",
        "runtime_config_optiscalpB.json",
        "runtime_config_optiscalpC.json",
    ],
}
START = "2023-04-03"


class _Quiet:
    def notify(self, note: Any) -> None:
        """Drop notifications (the console notifier would dominate the timing)."""


def child(case: str, days: int) -> dict[str, Any]:
    """Run one case in this process; its figures."""
    import datetime as dt

    from optiflow.adapters.sqlite.store import SqliteStore
    from optiflow.config.loader import load_config
    from optiflow.interfaces.cli.timeparse import parse_when
    from optiflow.marketdata.loaders import load_folder
    from optiflow.runtimes.backtest import prepare, run_backtest
    from optiflow.runtimes.rehearsal import RehearsalRuntime

    end = (dt.date.fromisoformat(START) + dt.timedelta(days=days)).isoformat()
    candles = trades = 0
    seconds = cpu = 0.0
    equal = True
    for name in CASES[case]:
        cfg = load_config(REPO / "configs" / name)
        data = load_folder(DATA, list(cfg.pairs), parse_when("f", START), parse_when("t", end))
        arrays = prepare(cfg, data)
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            store = SqliteStore(state / "bot.sqlite", cfg.name, durability="rehearsal")
            rt = RehearsalRuntime(cfg, arrays, store, _Quiet(), state, 0)
            t0, c0 = time.perf_counter(), time.process_time()
            asyncio.run(rt.run())
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
            exits = store.exits()
            store.close()
        expected = run_backtest(cfg, data, entries_at_once=True).exits
        equal = equal and [e.net_pnl for e in exits] == [e.net_pnl for e in expected]
        candles += sum(len(a.ts) for a in arrays)
        trades += len(exits)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "days": days,
        "candles": candles,
        "seconds": round(seconds, 3),
        "candles_per_s": round(candles / seconds),
        "cpu_seconds": round(cpu, 3),
        "candles_per_cpu_s": round(candles / cpu),
        "trades": trades,
        "equal_to_backtest": equal,
        "peak_rss_mib": round(rss, 1),
    }


def main() -> None:
    """Run every case in its own child process and print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--child", choices=list(CASES))
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rehearsal.json")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.days)))
        return
    rows = []
    for case in CASES:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", case, "--days", str(args.days)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'case':6} {'candles':>8} {'seconds':>8} {'candles/s':>10} {'CPU s':>7} "
          f"{'per CPU s':>10} {'trades':>7} {'equal':>6} {'RSS MiB':>8}")  # fmt: skip
    for r in rows:
        print(f"{r['case']:6} {r['candles']:8} {r['seconds']:8} {r['candles_per_s']:10} "
              f"{r['cpu_seconds']:7} {r['candles_per_cpu_s']:10} "
              f"{r['trades']:7} {r['equal_to_backtest']!s:>6} {r['peak_rss_mib']:8}")  # fmt: skip
    args.out.write_text(json.dumps({"start": START, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
