"""Replay speed benchmark for OptiFlow (issue 3, "Speed").

On real Binance 1m candles (``data/binance_spot_1m``) it measures:

* replay throughput: ``ReplayRuntime(..., speed=0).run()`` (as fast as possible, the whole
  runtime: bar loop, decision log, commits, state files), candles per second, once with the
  SQLite store (a fresh file in a temp dir) and once with the in-memory store, for preset A
  on BTC/ETH/ADA and for the fleet (A, B, C each on its own three pairs, one after another);
  the persistence cost is ``1 - sqlite candles/s / memory candles/s`` (target < 20 %).
  Every case also runs with the state-file refresh (``write_files``) replaced by a no-op,
  which shows the store's cost without the files' cost around it;
* the duration of one trading cycle of a 9-pair bot (preset A settings, the nine bundled
  pairs) excluding exchange I/O: each ``loop.process_bar(t, present)`` of a replay-like loop,
  alone, with the commit the runtime makes (when something changed, or every
  ``commit_every`` bars), and with a commit after every bar (as the live runtime does);
  p50/p99/max in milliseconds (target p99 < 5 ms).

Usage (from the repository root)::

    .venv/bin/python bench/run_replay_bench.py               # 7 days, best of 3
    .venv/bin/python bench/run_replay_bench.py --days 2 --repeat 1   # smoke run

Results go to stdout and to ``bench/results/replay.json`` (or ``--out FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import CONFIGS, DATA_46D, PRESET_A, PRESET_B, PRESET_C, RESULTS, machine  # noqa: E402

if TYPE_CHECKING:
    from optiflow.config.models import BotConfig
    from optiflow.domain.events import Notify
    from optiflow.marketdata.loaders import CandleArrays
    from optiflow.ports.store import Store
    from optiflow.runtimes.replay import ReplayRuntime

# All nine pairs are present from 2023-04-01 21:04 UTC on.
WINDOW_FROM = dt.datetime(2023, 4, 2, tzinfo=dt.UTC)
NINE_PAIRS = (
    "BTC/USDT",
    "ETH/USDT",
    "ADA/USDT",
    "SOL/USDT",
    "DOGE/USDT",
    "LTC/USDT",
    "XRP/USDT",
    "AVAX/USDT",
    "MATIC/USDT",
)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "A": ("preset A, BTC/ETH/ADA", (PRESET_A,)),
    "fleet": ("fleet A+B+C, nine pairs", (PRESET_A, PRESET_B, PRESET_C)),
}
STORES = ("sqlite", "memory")


class CountingNotifier:
    """A notifier that only counts what it is told (no console output in the timing)."""

    def __init__(self) -> None:
        """Start at zero."""
        self.count = 0

    def notify(self, note: Notify) -> None:
        """Count one note."""
        self.count += 1


@dataclass
class ThroughputResult:
    """Replay throughput of one case with one store."""

    case: str
    title: str
    store: str
    state_files: bool
    candles: int = 0
    exits: int = 0
    setup_s: float = 0.0
    runs_s: list[float] = field(default_factory=list)
    best_s: float = 0.0
    candles_per_s: float = 0.0


@dataclass
class CycleResult:
    """Per-cycle durations (ms) of the 9-pair bot, one variant."""

    variant: str
    cycles: int = 0
    commits: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    p99_ms_each_run: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def load_window(days: float) -> dict[str, CandleArrays]:
    """The nine pairs' candles over ``days`` days from ``WINDOW_FROM``."""
    from optiflow.marketdata.loaders import load_folder

    ms_from = int(WINDOW_FROM.timestamp() * 1000)
    ms_to = ms_from + int(days * 86_400_000)
    return load_folder(DATA_46D, list(NINE_PAIRS), ms_from, ms_to)


def make_store(kind: str, folder: Path, name: str) -> Store:
    """A fresh SQLite file in ``folder`` or a fresh in-memory store."""
    from optiflow.adapters.memory.store import MemoryStore
    from optiflow.adapters.sqlite.store import SqliteStore

    if kind == "sqlite":
        return SqliteStore(folder / "bot.sqlite", name)
    return MemoryStore(name)


def close_store(store: Store) -> None:
    """Release the store (the SQLite file is removed with its temp dir)."""
    store.close()


def new_runtime(
    cfg: BotConfig, data: Mapping[str, CandleArrays], store: Store, folder: Path
) -> ReplayRuntime:
    """A replay runtime at speed 0 (as fast as possible) with a silent notifier."""
    from optiflow.runtimes.replay import ReplayRuntime

    sub = {p: data[p] for p in cfg.pairs}
    return ReplayRuntime(cfg, sub, store, folder, CountingNotifier(), 0, time.monotonic)


def candles_of(rt: ReplayRuntime) -> int:
    """Candles the runtime plays: (bar, symbol) pairs with a candle."""
    return int(sum(int((r >= 0).sum()) for r in rt.loop.data.rows))


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_ms:
        return 0.0
    k = min(len(sorted_ms) - 1, max(0, int(round(q / 100 * len(sorted_ms) + 0.5)) - 1))
    return sorted_ms[k]


# --------------------------------------------------------------------------- throughput


def no_files(force: bool = False) -> None:
    """Stand-in for ``ReplayRuntime.write_files``: write no state files."""


def replay_once(res: ThroughputResult, data: Mapping[str, CandleArrays]) -> None:
    """One full replay of the case's bots (a fresh store each); add the run to ``res``.

    With ``res.state_files`` false the runtime's state-file refresh is replaced by a no-op,
    so the run measures the bar loop and the store alone.
    """
    from optiflow.config.loader import load_config

    total_s = setup_s = 0.0
    candles = exits = 0
    for name in CASES[res.case][1]:
        cfg = load_config(CONFIGS / name)
        with tempfile.TemporaryDirectory(prefix="optiflow-replay-bench-") as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            store = make_store(res.store, folder, cfg.name)
            rt = new_runtime(cfg, data, store, folder)
            if not res.state_files:
                rt.write_files = no_files  # type: ignore[method-assign]
            t1 = time.perf_counter()
            asyncio.run(rt.run())
            t2 = time.perf_counter()
            setup_s += t1 - t0
            total_s += t2 - t1
            candles += candles_of(rt)
            exits += len(store.exits())
            close_store(store)
    res.runs_s.append(total_s)
    res.setup_s = setup_s
    res.candles, res.exits = candles, exits
    res.best_s = min(res.runs_s)
    res.candles_per_s = res.candles / res.best_s


def bench_throughput(data: Mapping[str, CandleArrays], repeat: int) -> list[ThroughputResult]:
    """Every case x state files on/off x store, best of ``repeat``.

    The repeats are interleaved (one round over every variant, then the next) so a change
    of machine load affects the SQLite and the in-memory runs alike.
    """
    results = [
        ThroughputResult(case=case, title=CASES[case][0], store=kind, state_files=files)
        for case in CASES
        for files in (True, False)
        for kind in STORES
    ]
    for rnd in range(repeat):
        for res in results:
            what = "with" if res.state_files else "without"
            print(
                f"round {rnd + 1}/{repeat}: {res.case}, {res.store} store, {what} state files",
                flush=True,
            )
            replay_once(res, data)
    for case in CASES:
        counts = {(r.candles, r.exits) for r in results if r.case == case}
        if len(counts) != 1:
            raise RuntimeError(f"case {case}: the variants disagree on candles/exits: {counts}")
    return results


# --------------------------------------------------------------------------- one cycle


def nine_pair_config() -> BotConfig:
    """Preset A's settings on all nine bundled pairs."""
    from optiflow.config.loader import load_config

    cfg = load_config(CONFIGS / PRESET_A)
    return cfg.model_copy(update={"pairs": NINE_PAIRS, "name": "OptiScalp_A9"})


def bench_cycle(
    data: Mapping[str, CandleArrays], commit_every: int, repeat: int
) -> list[CycleResult]:
    """Time each bar of a replay-like loop for the 9-pair bot, three variants.

    Each variant runs ``repeat`` times (interleaved); the run with the lowest p99 is kept,
    every run's p99 is listed, because the tail is sensitive to other load on the machine.
    """
    best: dict[str, CycleResult] = {}
    variants = ("process_bar", "process_bar+runtime_commit", "process_bar+commit_every_bar")
    for _ in range(repeat):
        for variant in variants:
            res = cycle_once(data, commit_every, variant)
            prev = best.get(variant)
            runs = [*(prev.p99_ms_each_run if prev else []), res.p99_ms]
            if prev is None or res.p99_ms < prev.p99_ms:
                best[variant] = res
            best[variant].p99_ms_each_run = runs
    return [best[v] for v in variants]


def cycle_once(data: Mapping[str, CandleArrays], commit_every: int, variant: str) -> CycleResult:
    """One replay-like pass of the 9-pair bot, timing every bar (ms)."""
    cfg = nine_pair_config()
    with tempfile.TemporaryDirectory(prefix="optiflow-cycle-bench-") as tmp:
        folder = Path(tmp)
        store = make_store("sqlite", folder, cfg.name)
        rt = new_runtime(cfg, data, store, folder)
        rt.commit_every = commit_every
        start = rt.recover()
        loop, d = rt.loop, rt.loop.data
        loop.on_result = loop.record_result
        n_sym = len(d.symbols)
        times_ns: list[int] = []
        commits, last_commit = 0, start - 1
        pc = time.perf_counter_ns
        for t in range(start, len(d.ts)):
            present = [i for i in range(n_sym) if d.rows[i][t] >= 0]
            before = (len(loop.step.orders), len(loop.bot.exits))
            t0 = pc()
            loop.process_bar(t, present)
            rt.log_decisions()
            if variant == "process_bar+commit_every_bar":
                rt.commit(t)
                commits += 1
            elif variant == "process_bar+runtime_commit":
                changed = (len(loop.step.orders), len(loop.bot.exits)) != before
                if changed or t - last_commit >= rt.commit_every:
                    rt.commit(t)
                    commits += 1
                    last_commit = t
            times_ns.append(pc() - t0)
            if variant == "process_bar" and t - last_commit >= rt.commit_every:
                rt.commit(t)  # outside the timing: keep the step log bounded
                last_commit = t
        close_store(store)
    ms = sorted(x / 1e6 for x in times_ns)
    return CycleResult(
        variant=variant,
        cycles=len(ms),
        commits=commits,
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else 0.0,
        mean_ms=sum(ms) / len(ms) if ms else 0.0,
    )


# --------------------------------------------------------------------------- report


def persistence_costs(results: Sequence[ThroughputResult]) -> dict[str, float]:
    """Per case and state-file setting: 1 - sqlite candles/s / memory candles/s."""
    by = {(r.case, r.state_files, r.store): r for r in results}
    out: dict[str, float] = {}
    for case in CASES:
        for files in (True, False):
            sq, mem = by.get((case, files, "sqlite")), by.get((case, files, "memory"))
            if sq is not None and mem is not None:
                key = f"{case} ({'with' if files else 'without'} state files)"
                out[key] = 1 - sq.candles_per_s / mem.candles_per_s
    return out


def print_report(
    results: Sequence[ThroughputResult], cycles: Sequence[CycleResult], repeat: int
) -> None:
    """Plain-text tables."""
    print(f"\nreplay throughput (speed 0, best of {repeat})")
    print("case   | files | store  | candles | exits | setup s | run s (best) | candles/s")
    for r in results:
        print(
            f"{r.case:6} | {'yes' if r.state_files else 'no':5} | {r.store:6} | "
            f"{r.candles:7,} | {r.exits:5} | {r.setup_s:7.2f} | "
            f"{r.best_s:12.3f} | {r.candles_per_s:9,.0f}"
        )
    for case, cost in persistence_costs(results).items():
        print(f"persistence cost {case}: {cost * 100:.1f} % (target < 20 %)")
    print("\none cycle of the 9-pair bot (ms)")
    print("variant                       | cycles | commits |  p50  |  p90  |  p99  |  max")
    for c in cycles:
        print(
            f"{c.variant:29} | {c.cycles:6} | {c.commits:7} | {c.p50_ms:5.3f} | "
            f"{c.p90_ms:5.3f} | {c.p99_ms:5.3f} | {c.max_ms:6.2f}   "
            f"(p99 of each run: {', '.join(f'{x:.3f}' for x in c.p99_ms_each_run)})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run the throughput cases and the cycle timing."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--days", type=float, default=7.0, help="days of data from 2023-04-02")
    ap.add_argument("--repeat", type=int, default=3, help="replays per case and store (best)")
    ap.add_argument("--commit-every", type=int, default=200, help="ReplayRuntime commit_every")
    ap.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.days <= 0:
        ap.error("--repeat must be >= 1 and --days > 0")

    t0 = time.perf_counter()
    data = load_window(args.days)
    load_s = time.perf_counter() - t0
    print(f"loaded {len(data)} pairs, {args.days:g} days, in {load_s:.2f} s", flush=True)
    results = bench_throughput(data, args.repeat)
    print("cycle timing, 9 pairs ...", flush=True)
    cycles = bench_cycle(data, args.commit_every, args.repeat)
    print_report(results, cycles, args.repeat)

    out = args.out or RESULTS / "replay.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "machine": machine(),
        "options": {
            "days": args.days,
            "repeat": args.repeat,
            "commit_every": args.commit_every,
            "window_from": WINDOW_FROM.isoformat(),
        },
        "throughput": [asdict(r) for r in results],
        "persistence_cost": persistence_costs(results),
        "cycle_9_pairs": [asdict(c) for c in cycles],
    }
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
