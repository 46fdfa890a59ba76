"""Backtest speed with shadow outcomes on vs off (issue 9, "Numbers").

For each case (a: reference config, b: preset A, c: the fleet A+B+C) on the whole bundled
data (`data/binance_spot_1m/`, 46 days), the best of ``--repeat`` engine runs of
``run_backtest(cfg, data, fast=True)`` with ``shadows.enabled`` true and false, on candles
already in memory; the trades must be identical (checked). Results go to stdout and
``bench/results/shadows.json``. A benchmark, not a test: nothing fails when it is slow.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import run_backtest

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "a": ("reference_ema_rsi.json",),
    "b": ("runtime_config_optiscalpA.json",),
    "c": (
        "runtime_config_optiscalpA.json",
        "runtime_config_optiscalpB.json",
        "runtime_config_optiscalpC.json",
    ),
}


def switched(cfg: BotConfig, on: bool) -> BotConfig:
    """The config with shadows on or off."""
    return cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": on})})


def bench_case(case: str, repeat: int) -> dict[str, Any]:
    """Best engine time of the case with shadows on and off, and the shadow count."""
    cfgs = [load_config(REPO / "configs" / n) for n in CASES[case]]
    symbols = sorted({p for c in cfgs for p in c.pairs})
    data = load_folder(REPO / "data" / "binance_spot_1m", symbols)
    best: dict[bool, float] = {}
    exits: dict[bool, list[Any]] = {}
    shadows = 0
    candles = 0
    for _ in range(repeat):
        for on in (False, True):
            t0 = time.perf_counter()
            runs = [run_backtest(switched(c, on), data) for c in cfgs]
            took = time.perf_counter() - t0
            best[on] = min(best.get(on, took), took)
            exits[on] = [r.exits for r in runs]
            candles = sum(r.candles_processed for r in runs)
            if on:
                shadows = sum(
                    v["shadow_wins"] + v["shadow_losses"]
                    for r in runs
                    for k, v in r.extra["shadow_outcomes"].items()  # type: ignore[union-attr]
                    if k != "top_missed"
                )
    return {
        "case": case,
        "configs": list(CASES[case]),
        "candles": candles,
        "off_s": round(best[False], 3),
        "on_s": round(best[True], 3),
        "off_candles_per_s": round(candles / best[False]),
        "on_candles_per_s": round(candles / best[True]),
        "slowdown": round(best[True] / best[False], 2),
        "shadow_credits": shadows,
        "same_trades": exits[True] == exits[False],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the cases, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--case", choices=[*CASES, "all"], default="all")
    ap.add_argument("--repeat", type=int, default=3, help="engine runs per case (best kept)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "shadows.json")
    args = ap.parse_args(argv)
    cases = list(CASES) if args.case == "all" else [args.case]
    results = [bench_case(c, args.repeat) for c in cases]
    print(f"{'case':4} {'candles':>9} {'off s':>7} {'on s':>7} {'off c/s':>9} {'on c/s':>9} "
          f"{'x':>5} {'credits':>8} same")  # fmt: skip
    for r in results:
        print(f"{r['case']:4} {r['candles']:>9} {r['off_s']:>7} {r['on_s']:>7} "
              f"{r['off_candles_per_s']:>9} {r['on_candles_per_s']:>9} {r['slowdown']:>5} "
              f"{r['shadow_credits']:>8} {r['same_trades']}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpu": platform.processor() or "?"}
    args.out.write_text(json.dumps({"machine": machine, "repeat": args.repeat,
                                    "results": results}, indent=2) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
