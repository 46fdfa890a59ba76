"""Optimizer benchmark (issue 13): trials/s with 1 vs 2 jobs, and walk-forward verdicts.

* ``speed``: ``optiflow optimize A`` on the bundled 46 days x 3 pairs (BTC, ETH, ADA), a
  fresh study each time, ``--trials N`` with ``--jobs 1`` and ``--jobs 2``; wall time of the
  whole command (import, load, studies, report) and trials/s; the time for 1,000 trials is
  extrapolated from the rate.
* ``walk``: ``optiflow optimize P --walk-forward 4 --trials T`` for presets A, B and C; the
  out-of-sample verdict of each, per fold in- vs out-of-sample $/day.

Usage (repository root)::

    .venv/bin/python bench/run_optimize_bench.py                 # speed (60 trials) + walk (60)
    .venv/bin/python bench/run_optimize_bench.py --part speed --trials 200
    .venv/bin/python bench/run_optimize_bench.py --part walk --walk-trials 60

Results: a table on stdout and ``bench/results/optimize.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CLI = [sys.executable, "-m", "optiflow.interfaces.cli.main", "optimize"]


def run(args: list[str], out: Path) -> tuple[float, dict[str, Any], str]:
    """Run one optimize command; (wall seconds, optimize.json, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*CLI, *args, "--out", str(out)], capture_output=True, text=True, cwd=REPO
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"optimize failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall, json.loads((out / "optimize.json").read_text()), proc.stdout


def speed(trials: int, tmp: Path) -> list[dict[str, Any]]:
    """Trials per second of preset A with 1 and 2 worker processes."""
    rows = []
    for jobs in (1, 2):
        wall, doc, _ = run(["A", "--trials", str(trials), "--jobs", str(jobs), "--seed", "1"],
                           tmp / f"speed{jobs}")  # fmt: skip
        done = doc["stages"][0]["trials"]
        rate = done / wall
        rows.append(
            {
                "jobs": jobs,
                "trials": done,
                "wall_s": round(wall, 1),
                "trials_per_s": round(rate, 2),
                "est_1000_trials_min": round(1000 / rate / 60, 1),
            }
        )
        print(f"jobs {jobs}: {done} trials in {wall:.1f} s = {rate:.2f} trials/s; "
              f"1,000 trials ~ {1000 / rate / 60:.1f} min", flush=True)  # fmt: skip
    return rows


def walk(trials: int, tmp: Path) -> list[dict[str, Any]]:
    """Walk-forward 4 on presets A, B and C: per-fold IS vs OOS and the verdict."""
    rows = []
    for preset in ("A", "B", "C"):
        wall, doc, stdout = run(
            [preset, "--walk-forward", "4", "--trials", str(trials), "--jobs", "2",
             "--seed", "1"], tmp / f"walk{preset}",
        )  # fmt: skip
        folds = [
            {
                "fold": s["label"],
                "test": s["test"],
                "is_per_day": (s["in_sample"] or {}).get("net_per_day"),
                "oos_per_day": (s["out_of_sample"] or {}).get("net_per_day"),
                "oos_trades": (s["out_of_sample"] or {}).get("trades"),
                "oos_win_rate_pct": (s["out_of_sample"] or {}).get("win_rate_pct"),
            }
            for s in doc["stages"]
        ]
        rows.append({"preset": preset, "wall_s": round(wall, 1), "verdict": doc["verdict"],
                     "folds": folds})  # fmt: skip
        print(f"{preset} ({wall:.0f} s): " + " | ".join(doc["verdict"]), flush=True)
        for f in folds:
            print(f"   {f['fold']}: IS {f['is_per_day']} $/day, OOS {f['oos_per_day']} $/day, "
                  f"{f['oos_trades']} OOS trades", flush=True)  # fmt: skip
    return rows


def main() -> None:
    """Parse arguments, run the parts, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("speed", "walk", "all"), default="all")
    ap.add_argument("--trials", type=int, default=60, help="speed: trials per run")
    ap.add_argument("--walk-trials", type=int, default=60, help="walk: trials per fold")
    ap.add_argument("--out", type=Path, default=RESULTS / "optimize.json")
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with tempfile.TemporaryDirectory(prefix="optiflow-optbench-") as tmp:
        if args.part in ("speed", "all"):
            result["speed"] = speed(args.trials, Path(tmp))
        if args.part in ("walk", "all"):
            result["walk_forward_4"] = walk(args.walk_trials, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
