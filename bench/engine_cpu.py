"""CPU time of the engine on a bench case: ``time.process_time`` around ``run_backtest``.

Steadier than wall time on a shared machine. Prints, per case, every run's CPU seconds,
the best, candles per CPU second, and a digest of the trade lists (equal digests = the
same trades, bit for bit). Usage, from the repository root::

    .venv/bin/python bench/engine_cpu.py --repeat 5 a b x8
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run_bench  # noqa: E402  (the bench's own case builders)


def main(argv: Sequence[str] | None = None) -> int:
    """Run each case ``--repeat`` times and print its CPU figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="+", choices=sorted(run_bench.CASES))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from optiflow.runtimes.backtest import run_backtest

    for case in args.cases:
        cfgs = run_bench.load_bots(case)
        data = run_bench.load_data(case, cfgs, False, "columns")
        runs_s: list[float] = []
        for _ in range(args.repeat):
            t0 = time.process_time()
            runs = [run_backtest(c, data, fast=True) for c in cfgs]
            runs_s.append(time.process_time() - t0)
        candles = sum(r.candles_processed for r in runs)
        digest = hashlib.sha1(repr([r.exits for r in runs]).encode()).hexdigest()[:12]
        best = min(runs_s)
        print(
            f"{case}: cpu s {' '.join(f'{t:.3f}' for t in runs_s)}; best {best:.3f}; "
            f"{candles / best:,.0f} candles/cpu s; exits {sum(len(r.exits) for r in runs)}; "
            f"trades digest {digest}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
