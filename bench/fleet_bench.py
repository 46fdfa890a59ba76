"""Fleet footprint benchmark (issue 10): total RSS and CPU of a fleet, per process and in total.

Each run is a real ``optiflow fleet run`` with ``bots_per_process`` = ``--bots-per-process``
(1: one ``optiflow run`` process per bot, full isolation; more: hosts of that many bots).

* ``replay``: the 9 test bots (presets A, B, C and six variants over the nine bundled pairs)
  replaying the bundled 1m candles at ``--speed`` (1 = the preset cadence: one candle a
  minute per pair, like live).
* ``paper``: the same bots on live-style data from the fake Binance (``tests/fakes/binance.py``,
  served by this process, the nine pairs listed with a book each), at the presets' own
  ``interval_s`` (10-30 s). Paper bots load ccxt, replay bots do not.

``--bots 18`` (27, ...) runs the nine bots two (three, ...) times under other names.
``--sizes 9,18,27,36`` measures fleets of growing size until a bot misses its interval, the
total RSS passes ``--max-rss-mb`` or the fleet's CPU passes ``--max-cpu-pct`` of one core:
the largest fleet that kept every interval is reported.

Sampling: every second, RSS (``VmRSS``) and CPU time (utime + stime) of the supervisor and
every bot process from ``/proc``; the first ``--warmup`` seconds (imports, data loading) are
left out of the CPU figure. Missed intervals (paper): every 2 s each bot's newest
``last_cycle_time`` in ``debug_monitoring_summary.json``; a bot whose last cycle grows older
than 1.5 x its ``interval_s`` + 2 s after the warm-up missed its interval.

    .venv/bin/python bench/fleet_bench.py --mode replay --seconds 60 --bots-per-process 1
    .venv/bin/python bench/fleet_bench.py --mode paper --seconds 60 --bots-per-process 5
    .venv/bin/python bench/fleet_bench.py --mode paper --sizes 9,18,27,36 --seconds 60

Results go to stdout and ``bench/results/fleet_<mode>_bpp<N>.json`` (sizes:
``fleet_<mode>_bpp<N>_largest.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optiflow.supervisor import procs  # noqa: E402
from optiflow.supervisor.spec import DEFAULT_BOTS_PER_PROCESS  # noqa: E402
from tests.supervisor.fleet_support import NINE, make_fleet, processes_under  # noqa: E402

PAIRS = ("BTC", "ETH", "ADA", "SOL", "DOGE", "LTC", "XRP", "AVAX", "MATIC")


def start_fake() -> Any:
    """The fake Binance with the nine pairs: real candles moved to end now, a book each."""
    from tests.fakes.binance import FakeBinance
    from tests.fakes.binance_ledger import load_candles

    fake = FakeBinance()
    now_min = int(time.time() // 60 * 60_000)
    for base in PAIRS:
        rows = load_candles(REPO / "data" / "binance_spot_1m" / f"{base}-USDT_1m.csv.gz")[-3000:]
        shift = now_min - int(rows[-1][0])  # the bundled candles, moved to end now
        rows = [(int(r[0]) + shift, *r[1:]) for r in rows]
        fake.ledger.add_market(base, "USDT", tick="0.0001", step="0.0001")
        fake.ledger.set_candles(f"{base}USDT", rows)
        close = float(rows[-1][4])
        fake.ledger.set_book(f"{base}USDT", f"{close:.4f}", f"{close * 1.0001:.4f}")
    return fake.start(0)


def bots_of(n: int) -> list[tuple[str, str, list[str] | None]]:
    """`n` bots: the nine test bots, repeated under other names (``_2``, ``_3`` ...)."""
    out = []
    for i in range(n):
        key, name, pairs = NINE[i % 9]
        out.append((key, name if i < 9 else f"{name}_{i // 9 + 1}", pairs))
    return out


def sample(tmp: Path) -> dict[int, tuple[int, float, int]]:
    """pid -> (rss bytes, cpu seconds, bots in it; 0 = supervisor) for the fleet under `tmp`."""
    out = {}
    for pid, args in processes_under(tmp).items():
        if "fleet" in args and "status" in args:
            continue
        bots = args.count("--state-dir") if "run" in args else 0
        rss, cpu = procs.rss_bytes(pid), procs.cpu_seconds(pid)
        if rss is not None and cpu is not None:
            out[pid] = (rss, cpu, bots)
    return out


def cycle_ages(root: Path, intervals: dict[str, float]) -> dict[str, float | None]:
    """Seconds since each bot's newest cycle (``debug_monitoring_summary.json``)."""
    now = time.time()
    out: dict[str, float | None] = {}
    for name in intervals:
        try:
            doc = json.loads((root / name / "debug_monitoring_summary.json").read_text())
            ts = [s.get("last_cycle_time") for s in doc.get("symbols", {}).values()]
            newest = max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in ts if t)
            out[name] = now - newest.timestamp()
        except (OSError, ValueError, AttributeError):
            out[name] = None
    return out


def run_once(args: argparse.Namespace, n_bots: int, per: int) -> dict[str, Any]:
    """One fleet of `n_bots` with `per` bots per process; the figures as a dict."""
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    root = tmp / "state"
    fake = start_fake() if args.mode == "paper" else None
    settings = {
        "mode": args.mode,
        "state_root": str(root),
        "allow_shared_pairs": True,
        "stagger_s": args.stagger,
        "bots_per_process": per,
    }
    folder = make_fleet(tmp / "fleet", bots_of(n_bots), settings)
    intervals: dict[str, float] = {}
    for path in folder.glob("*.json"):
        if path.name != "fleet.json":
            cfg = json.loads(path.read_text())
            intervals[cfg["name"]] = float(cfg["interval_s"])
            if fake is not None:
                cfg["exchange"]["api_base_url"] = fake.url
                cfg["timeframe"] = "1m"  # the fake serves 1m klines only (swing bots: 5m/15m)
                path.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "fleet", "run", str(folder)]
    if args.mode == "replay":
        cmd += ["--speed", str(args.speed), "--from", "2023-04-10"]
    sup = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    first: dict[int, float] = {}
    peak_rss, rss_samples, worst_age = 0, [], dict.fromkeys(intervals, 0.0)
    last: dict[int, tuple[int, float, int]] = {}
    try:
        while time.monotonic() - t0 < args.warmup + args.seconds:
            now = sample(tmp)
            last = now or last
            total = sum(r for r, _, _ in now.values())
            peak_rss = max(peak_rss, total)
            if time.monotonic() - t0 >= args.warmup:
                rss_samples.append(total)
                for pid, (_, cpu, _) in now.items():
                    first.setdefault(pid, cpu)
                if args.mode == "paper" and int(time.monotonic() - t0) % 2 == 0:
                    for name, age in cycle_ages(root, intervals).items():
                        worst_age[name] = max(worst_age[name], age if age is not None else 1e9)
            time.sleep(1.0)
        last = sample(tmp)
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(180)
        if fake is not None:
            fake.stop()
    cpu = sum(last[p][1] - first[p] for p in last if p in first)
    missed = sorted(
        n for n, age in worst_age.items() if age > 1.5 * intervals[n] + 2.0
    ) if args.mode == "paper" else []  # fmt: skip
    per_proc = [
        {
            "pid": pid,
            "role": "supervisor" if bots == 0 else "bots",
            "bots": bots,
            "rss_mb": round(rss / 2**20, 1),
            "cpu_pct_of_one_core": round(100 * (c - first.get(pid, c)) / args.seconds, 2),
        }
        for pid, (rss, c, bots) in sorted(last.items(), key=lambda kv: -kv[1][2])
    ]
    return {
        "mode": args.mode,
        "speed": args.speed if args.mode == "replay" else None,
        "bots_per_process": per,
        "bots": sum(v[2] for v in last.values()),
        "bot_processes": sum(1 for v in last.values() if v[2]),
        "seconds": args.seconds,
        "rss_total_mb": round(sum(v[0] for v in last.values()) / 2**20, 1),
        "rss_mean_total_mb": round(sum(rss_samples) / max(1, len(rss_samples)) / 2**20, 1),
        "rss_peak_total_mb": round(peak_rss / 2**20, 1),
        "cpu_pct_of_one_core": round(100 * cpu / args.seconds, 2),
        "processes": per_proc,
        "worst_cycle_age_s": {n: round(a, 1) for n, a in sorted(worst_age.items())}
        if args.mode == "paper"
        else None,
        "missed_interval": missed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    """Run the fleet (or fleets of growing size), sample, print and save the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=("replay", "paper"), default="replay")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--stagger", type=float, default=1.0)
    ap.add_argument("--bots", type=int, default=9)
    ap.add_argument("--bots-per-process", type=int, default=DEFAULT_BOTS_PER_PROCESS)
    ap.add_argument("--sizes", help="comma-separated fleet sizes, e.g. 9,18,27,36")
    ap.add_argument("--max-rss-mb", type=float, default=1500)
    ap.add_argument("--max-cpu-pct", type=float, default=100)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    per = args.bots_per_process
    name = f"fleet_{args.mode}_bpp{per}"
    if not args.sizes:
        doc = run_once(args, args.bots, per)
    else:
        runs, largest = [], 0
        for n in (int(x) for x in args.sizes.split(",")):
            r = run_once(args, n, per)
            runs.append(r)
            print(json.dumps({k: r[k] for k in ("bots", "rss_total_mb", "cpu_pct_of_one_core",
                                                "missed_interval")}), flush=True)  # fmt: skip
            too_big = r["rss_total_mb"] > args.max_rss_mb or (
                r["cpu_pct_of_one_core"] > args.max_cpu_pct
            )
            if r["missed_interval"] or too_big or r["bots"] < n:
                break
            largest = n
        doc = {"largest_fleet_every_interval_kept": largest, "runs": runs}
        name += "_largest"
    print(json.dumps(doc, indent=1))
    out = args.out or REPO / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
