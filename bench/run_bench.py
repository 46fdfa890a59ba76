"""Backtest speed benchmark for OptiFlow (issue 2, "Speed").

For every case it measures, on real Binance 1m candles:

* engine time: the best of ``--repeat`` calls of ``run_backtest`` on data already in memory
  (``time.perf_counter``), hence engine candles per second, and their CPU time
  (``time.process_time``: steadier than wall time on a shared machine);
* whole-process time: a fresh ``python bench/run_bench.py --case X --child`` that imports
  OptiFlow, loads the candle files, runs the backtest once and exits, timed from the parent,
  hence whole-process candles per second, and the child's own CPU time (``os.times``);
* peak memory of that child process (its own ``VmHWM``, reported back as JSON);
* for case ``b`` only: one run of the candle-by-candle path (``fast=False``) against the fast
  path, and whether both give the identical trade list.

Usage (from the repository root)::

    .venv/bin/python bench/run_bench.py               # every case, 3 repeats
    .venv/bin/python bench/run_bench.py --case b      # one case (a|b|c|d|x8|all)
    .venv/bin/python bench/run_bench.py --quick       # 10-day smoke run, no year case

Results go to stdout (a table) and to ``bench/results/backtest.json``
(``backtest_quick.json`` for ``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optiflow.config.models import BotConfig
    from optiflow.domain.results import BotRun
    from optiflow.marketdata.loaders import CandleArrays

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
DATA_46D = REPO / "data" / "binance_spot_1m"
YEAR_FILE = REPO / ".." / "shared" / "data" / "long" / "BTC-USDT_1m_spot_2023.csv.gz"
RESULTS = REPO / "bench" / "results"

REFERENCE = "reference_ema_rsi.json"
PRESET_A = "runtime_config_optiscalpA.json"
PRESET_B = "runtime_config_optiscalpB.json"
PRESET_C = "runtime_config_optiscalpC.json"

# --quick: 10 days inside the window that all nine pairs cover (2023-04-01 21:04 onwards).
QUICK_FROM = dt.datetime(2023, 4, 2, tzinfo=dt.UTC)
QUICK_TO = QUICK_FROM + dt.timedelta(days=10)

# One bench case = one or several bots run one after another in one process.
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "a": ("reference EMA/RSI, BTC/ETH/ADA", (REFERENCE,)),
    "b": ("preset A (exit ladder), BTC/ETH/ADA", (PRESET_A,)),
    "c": ("fleet A+B+C, nine pairs", (PRESET_A, PRESET_B, PRESET_C)),
    "dA": ("preset A, BTC 1m year 2023", (PRESET_A,)),
    "dref": ("reference EMA/RSI, BTC 1m year 2023", (REFERENCE,)),
    "x8": ("reference EMA/RSI, BTC/ETH/ADA 46 d x 8 (1.59 M)", (REFERENCE,)),
}
GROUPS: dict[str, tuple[str, ...]] = {
    "a": ("a",),
    "b": ("b",),
    "c": ("c",),
    "d": ("dA", "dref"),
    "x8": ("x8",),
    "all": ("a", "b", "c", "dA", "dref", "x8"),
}
YEAR_CASES = ("dA", "dref")
X8_BALANCE = 1_000_000_000


@dataclass
class CaseResult:
    """Every figure measured for one case."""

    case: str
    title: str
    bots: list[str]
    data_format: str = "csv"
    candles: int = 0
    trades: int = 0
    positions: int = 0
    engine_runs_s: list[float] = field(default_factory=list)
    engine_best_s: float = 0.0
    engine_cpu_runs_s: list[float] = field(default_factory=list)  # time.process_time
    engine_cpu_best_s: float = 0.0
    engine_candles_per_s: float = 0.0
    load_s: float = 0.0
    process_wall_s: float = 0.0
    process_candles_per_s: float = 0.0
    child_import_s: float = 0.0
    child_load_s: float = 0.0
    child_run_s: float = 0.0
    child_run_cpu_s: float = 0.0
    process_cpu_s: float = 0.0  # the child's user + system CPU, interpreter start-up included
    peak_rss_mb: float = 0.0
    slow_path_s: float | None = None
    slow_path_candles_per_s: float | None = None
    fast_speedup: float | None = None
    same_trades_fast_vs_slow: bool | None = None


# --------------------------------------------------------------------------- data and configs


SHADOWS = {"on": False}  # --shadows: the peers compute no shadow outcomes, so off by default


def load_bots(case: str) -> list[BotConfig]:
    """The bot configs of a case (pairs overridden to BTC/USDT for the year cases)."""
    from optiflow.config.loader import load_config

    cfgs = [load_config(CONFIGS / name) for name in CASES[case][1]]
    on = SHADOWS["on"]
    cfgs = [
        c.model_copy(update={"shadows": c.shadows.model_copy(update={"enabled": on})})
        for c in cfgs
    ]
    if case in YEAR_CASES:
        cfgs = [c.model_copy(update={"pairs": ("BTC/USDT",)}) for c in cfgs]
    if case == "x8":  # a wallet that never runs dry, as the peers' runs have
        rich = [c.capital.model_copy(update={"starting_balance_usdt": X8_BALANCE}) for c in cfgs]
        cfgs = [c.model_copy(update={"capital": k}) for c, k in zip(cfgs, rich, strict=True)]
    return cfgs


def load_data(
    case: str, cfgs: Sequence[BotConfig], quick: bool, fmt: str = "csv"
) -> dict[str, CandleArrays]:
    """Load the candles every bot of the case needs, once per symbol (CSV or columns)."""
    from bench_data import spot_folder, x8_folder

    from optiflow.marketdata.loaders import load_candles, load_folder

    if case in YEAR_CASES:
        return {"BTC/USDT": load_candles(YEAR_FILE, symbol="BTC/USDT")}
    symbols = sorted({p for c in cfgs for p in c.pairs})
    if case == "x8":
        return load_folder(x8_folder(fmt), symbols)
    folder = spot_folder(fmt)
    if quick:
        ms_from = int(QUICK_FROM.timestamp() * 1000)
        ms_to = int(QUICK_TO.timestamp() * 1000)
        return load_folder(folder, symbols, ms_from, ms_to)
    return load_folder(folder, symbols)


def run_bots(
    cfgs: Sequence[BotConfig], data: Mapping[str, CandleArrays], fast: bool = True
) -> list[BotRun]:
    """Backtest every bot one after another (the fleet as run in one process)."""
    from optiflow.runtimes.backtest import run_backtest

    return [run_backtest(c, data, fast=fast) for c in cfgs]


def totals(runs: Sequence[BotRun]) -> tuple[int, int, int]:
    """Candles processed, exit fills and positions opened, summed over the bots."""
    return (
        sum(r.candles_processed for r in runs),
        sum(len(r.exits) for r in runs),
        sum(r.positions_opened for r in runs),
    )


# --------------------------------------------------------------------------- child process


def child(case: str, quick: bool, fmt: str) -> None:
    """Import, load, run once, then print the figures and own peak RSS as one JSON line."""
    t0 = time.perf_counter()
    import optiflow.config.loader  # noqa: F401
    import optiflow.marketdata.loaders  # noqa: F401
    import optiflow.runtimes.backtest  # noqa: F401  (import cost is part of the measurement)

    t1 = time.perf_counter()
    cfgs = load_bots(case)
    data = load_data(case, cfgs, quick, fmt)
    t2, c2 = time.perf_counter(), time.process_time()
    runs = run_bots(cfgs, data)
    t3, c3 = time.perf_counter(), time.process_time()
    candles, trades, positions = totals(runs)
    cpu = os.times()
    rss_kb = peak_rss_kb()
    print(
        json.dumps(
            {
                "candles": candles,
                "trades": trades,
                "positions": positions,
                "import_s": t1 - t0,
                "load_s": t2 - t1,
                "run_s": t3 - t2,
                "run_cpu_s": c3 - c2,
                "cpu_s": cpu.user + cpu.system,
                "peak_rss_mb": rss_kb / 1024,
            }
        )
    )


def peak_rss_kb() -> int:
    """This process's peak resident set (KiB): ``VmHWM`` of /proc/self/status.

    Not ``ru_maxrss``: on Linux that survives ``exec`` and so reports the parent's peak when
    the parent (which ran the same case in memory) is bigger than the child.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def run_child(case: str, quick: bool, fmt: str) -> tuple[float, dict[str, Any]]:
    """Run one case in a fresh interpreter; its wall time from here and its JSON report."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", case, "--child"]
    cmd += ["--format", fmt, "--shadows", "on" if SHADOWS["on"] else "off"]
    if quick:
        cmd.append("--quick")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child for case {case} failed:\n{proc.stderr}")
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return wall, report


# --------------------------------------------------------------------------- parent


def bench_case(case: str, repeat: int, quick: bool, fmt: str) -> CaseResult:
    """Measure one case: engine best-of-N in this process, then the whole process in a child."""
    title, names = CASES[case]
    fmt = "csv" if case in YEAR_CASES else fmt  # the year file has no columnar copy
    res = CaseResult(case, title, [n.removesuffix(".json") for n in names], fmt)
    load_data(case, load_bots(case), quick, fmt)  # builds the cached folders (not timed)
    t0 = time.perf_counter()
    cfgs = load_bots(case)
    data = load_data(case, cfgs, quick, fmt)
    res.load_s = time.perf_counter() - t0

    fast_runs: list[BotRun] = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fast_runs = run_bots(cfgs, data)
        res.engine_runs_s.append(time.perf_counter() - t)
        res.engine_cpu_runs_s.append(time.process_time() - c)
    res.candles, res.trades, res.positions = totals(fast_runs)
    res.engine_best_s = min(res.engine_runs_s)
    res.engine_cpu_best_s = min(res.engine_cpu_runs_s)
    res.engine_candles_per_s = res.candles / res.engine_best_s

    if case == "b":
        t = time.perf_counter()
        slow_runs = run_bots(cfgs, data, fast=False)
        res.slow_path_s = time.perf_counter() - t
        res.slow_path_candles_per_s = totals(slow_runs)[0] / res.slow_path_s
        res.fast_speedup = res.slow_path_s / res.engine_best_s
        res.same_trades_fast_vs_slow = all(
            f.exits == s.exits and f.positions_opened == s.positions_opened
            for f, s in zip(fast_runs, slow_runs, strict=True)
        )
    del data, fast_runs

    wall, rep = run_child(case, quick, fmt)
    if rep["candles"] != res.candles or rep["trades"] != res.trades:
        raise RuntimeError(f"case {case}: child and parent disagree: {rep} vs {res}")
    res.process_wall_s = wall
    res.process_candles_per_s = res.candles / wall
    res.child_import_s = rep["import_s"]
    res.child_load_s = rep["load_s"]
    res.child_run_s = rep["run_s"]
    res.child_run_cpu_s = rep["run_cpu_s"]
    res.process_cpu_s = rep["cpu_s"]
    res.peak_rss_mb = rep["peak_rss_mb"]
    return res


def machine() -> dict[str, Any]:
    """Where and when the bench ran."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                cwd=REPO,
                check=False,
            ).stdout.strip()
        )
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=False,
        ).stdout.strip()
    except OSError:
        commit, dirty = "", False
    import numpy

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "git_head": commit,
        "git_uncommitted_changes": dirty,
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def fmt_rate(x: float | None) -> str:
    """Candles per second with thousands separators."""
    return "-" if x is None else f"{x:,.0f}"


def print_table(results: Sequence[CaseResult], repeat: int) -> None:
    """The results as a rich table (plain text if rich is missing)."""
    header = [
        "case",
        "what",
        "data",
        "candles",
        "trades",
        "positions",
        f"engine s (best/{repeat})",
        "engine candles/s",
        "engine CPU s",
        "process s",
        "process CPU s",
        "process candles/s",
        "peak RSS MB",
    ]
    rows = [
        [
            r.case,
            r.title,
            r.data_format,
            f"{r.candles:,}",
            f"{r.trades:,}",
            f"{r.positions:,}",
            f"{r.engine_best_s:.3f}",
            fmt_rate(r.engine_candles_per_s),
            f"{r.engine_cpu_best_s:.3f}",
            f"{r.process_wall_s:.2f}",
            f"{r.process_cpu_s:.2f}",
            fmt_rate(r.process_candles_per_s),
            f"{r.peak_rss_mb:.0f}",
        ]
        for r in results
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(" | ".join(header))
        for row in rows:
            print(" | ".join(row))
    else:
        table = Table(title="OptiFlow backtest speed")
        for i, h in enumerate(header):
            table.add_column(h, justify="left" if i < 3 else "right")
        for row in rows:
            table.add_row(*row)
        console = Console()
        if not console.is_terminal:
            console = Console(width=170)
        console.print(table)
    for r in results:
        if r.slow_path_s is not None:
            print(
                f"case {r.case}: candle-by-candle path {r.slow_path_s:.2f} s "
                f"({fmt_rate(r.slow_path_candles_per_s)} candles/s) vs fast path "
                f"{r.engine_best_s:.3f} s: fast path x{r.fast_speedup:.1f}; "
                f"identical trade list: {r.same_trades_fast_vs_slow}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and run the bench (or one child measurement)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument(
        "--case",
        default="all",
        choices=[*GROUPS, *YEAR_CASES],
        help="a|b|c|d|all (d = the two year runs dA and dref)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="engine runs per case (best kept)")
    ap.add_argument(
        "--quick", action="store_true", help="10 days instead of 46, skip the year case (smoke run)"
    )
    ap.add_argument(
        "--format",
        default="columns",
        choices=["columns", "csv"],
        help="candle files read: numpy columns (optiflow data convert) or gzip CSV",
    )
    ap.add_argument("--out", type=Path, default=None, help="JSON results file")
    ap.add_argument(
        "--shadows",
        default="off",
        choices=["off", "on"],
        help="shadow outcomes (default off: the peers compute none; on costs about 2x)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    SHADOWS["on"] = args.shadows == "on"
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    if args.child:
        child(args.case, args.quick, args.format)
        return 0

    cases = list(GROUPS.get(args.case, (args.case,)))
    if args.quick and any(c in (*YEAR_CASES, "x8") for c in cases):
        print("skip d, x8: --quick does not run the year and x8 cases")
        cases = [c for c in cases if c not in (*YEAR_CASES, "x8")]
    if any(c in YEAR_CASES for c in cases) and not YEAR_FILE.is_file():
        print(
            f"skip d: year file not found: {YEAR_FILE.resolve()} "
            "(../shared/data/long/BTC-USDT_1m_spot_2023.csv.gz relative to the repo)"
        )
        cases = [c for c in cases if c not in YEAR_CASES]

    results: list[CaseResult] = []
    for case in cases:
        print(f"case {case}: {CASES[case][0]} ...", flush=True)
        results.append(bench_case(case, args.repeat, args.quick, args.format))

    if results:
        print_table(results, args.repeat)
    else:
        print("nothing to run")
    out = args.out or RESULTS / ("backtest_quick.json" if args.quick else "backtest.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": machine(),
        "options": {
            "case": args.case,
            "repeat": args.repeat,
            "quick": args.quick,
            "format": args.format,
        },
        "window": (
            f"{QUICK_FROM:%Y-%m-%d} -> {QUICK_TO:%Y-%m-%d} (quick)"
            if args.quick
            else "whole files of data/binance_spot_1m; year 2023 for d"
        ),
        "cases": [asdict(r) for r in results],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
