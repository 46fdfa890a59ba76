"""Kill-point sweep of a rehearsal: SIGKILL after every Nth durable write, compare the trades.

Runs one uninterrupted rehearsal, then for N = START, START+STEP, ... a rehearsal killed
right after its Nth durable write (``OPTIFLOW_REHEARSAL_KILL_AT``) and restarted, and
compares each final trade list (pair, entry time and price, exit time, reason, price and
quantity, in order) with the uninterrupted one. Stops at the first N past the last write.

    .venv/bin/python bench/rehearsal_kill_sweep.py [--faults "seed=7,rate=0.02"] \\
        [--from 2023-04-03 --to 2023-04-04] [--start 1 --step 3] [--jobs 2] [--points 13,37]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "runtime_config_optiscalpA.json"
KEEP = ("symbol", "ts_entry", "entry_price", "ts_exit", "reason", "exit_price", "qty")


def command(args: argparse.Namespace, state: Path) -> list[str]:
    """The rehearsal command line."""
    cmd = [
        sys.executable, "-m", "optiflow.interfaces.cli.main", "run", str(CONFIG),
        "--mode", "rehearsal", "--speed", "0", "--from", args.start_date, "--to", args.end_date,
        "--state-dir", str(state),
    ]  # fmt: skip
    return cmd + (["--faults", args.faults] if args.faults else [])


def run(args: argparse.Namespace, state: Path, kill: int | None = None) -> int:
    """One rehearsal (killed after write ``kill`` if given); its exit code."""
    env = {k: v for k, v in os.environ.items() if k != "OPTIFLOW_REHEARSAL_KILL_AT"}
    if kill is not None:
        env["OPTIFLOW_REHEARSAL_KILL_AT"] = str(kill)
    proc = subprocess.run(command(args, state), env=env, capture_output=True, timeout=900)
    return proc.returncode


def trades(state: Path) -> list[tuple[object, ...]]:
    """The trade list of a state folder."""
    db = sqlite3.connect(state / "bot.sqlite")
    try:
        cols = ", ".join(KEEP)
        return [tuple(r) for r in db.execute(f"SELECT {cols} FROM exits ORDER BY id")]
    finally:
        db.close()


def main() -> None:
    """Sweep and print every diverging kill point, then the totals."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faults", default="")
    ap.add_argument("--from", dest="start_date", default="2023-04-03")
    ap.add_argument("--to", dest="end_date", default="2023-04-04")
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--step", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--points", default="", help="comma-separated kill points instead")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="kill-sweep-"))
    assert run(args, out / "clean") == 0, "the uninterrupted run failed"
    expected = trades(out / "clean")
    print(f"uninterrupted: {len(expected)} trades", flush=True)

    def one(n: int) -> str:
        state = out / f"k{n}"
        if run(args, state, n) == 0:
            return "past the end"
        if run(args, state) != 0:
            return "restart failed"
        got = trades(state)
        shutil.rmtree(state, ignore_errors=True)
        return "same" if got == expected else f"DIFFERENT ({len(got)} trades)"

    if args.points:
        points = [int(p) for p in args.points.split(",")]
    else:
        points = list(range(args.start, 10**6, args.step))
    done, diverged = 0, []
    with ThreadPoolExecutor(args.jobs) as pool:
        for i in range(0, len(points), 4 * args.jobs):
            chunk = points[i : i + 4 * args.jobs]
            results = list(pool.map(one, chunk))
            for n, res in zip(chunk, results, strict=True):
                if res == "past the end":
                    continue
                done += 1
                if res != "same":
                    diverged.append(n)
                    print(f"kill after write {n}: {res}", flush=True)
            if "past the end" in results:
                break
    shutil.rmtree(out, ignore_errors=True)
    print(f"{done} kill points, {len(diverged)} diverging: {diverged}", flush=True)


if __name__ == "__main__":
    main()
