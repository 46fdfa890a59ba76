"""Fleet footprint benchmark (issue 10): total RSS and CPU of a 9-bot fleet, supervisor included.

Two modes, each a real ``optiflow fleet run`` (one OS process per bot, as deployed):

* ``replay``: the 9 test bots (presets A, B, C and six variants over the nine bundled pairs)
  replaying the bundled 1m candles at ``--speed`` (1 = the preset cadence: one candle a
  minute per pair, like live).
* ``paper``: the same 9 bots on live-style data from the fake Binance
  (``tests/fakes/binance.py``, in this process, the nine pairs listed with a book each), at
  the presets' own ``interval_s`` (10-30 s). Paper bots load ccxt, replay bots do not.

Sampling: every second, RSS (``VmRSS``) and CPU time (utime + stime) of the supervisor and
every bot process from ``/proc``; the first ``--warmup`` seconds (imports, data loading)
are left out of the CPU figure. Also reports each bot's last-cycle age at the end (a bot
that missed its interval shows an age above its ``interval_s``).

    .venv/bin/python bench/fleet_bench.py --mode replay --seconds 60
    .venv/bin/python bench/fleet_bench.py --mode paper --seconds 90

Results go to stdout and ``bench/results/fleet_<mode>.json``.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optiflow.supervisor import procs  # noqa: E402
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


def sample(tmp: Path) -> dict[int, tuple[int, float, str]]:
    """pid -> (rss bytes, cpu seconds, role) for the supervisor and the bots under `tmp`."""
    out = {}
    for pid, args in processes_under(tmp).items():
        role = "bot" if "run" in args and "--state-dir" in args else "supervisor"
        rss, cpu = procs.rss_bytes(pid), procs.cpu_seconds(pid)
        if rss is not None and cpu is not None:
            out[pid] = (rss, cpu, role)
    return out


def main() -> None:
    """Run the fleet, sample it, print and save the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=("replay", "paper"), default="replay")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=20)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    root = tmp / "state"
    fake = start_fake() if args.mode == "paper" else None
    folder = make_fleet(
        tmp / "fleet",
        NINE,
        {"mode": args.mode, "state_root": str(root), "allow_shared_pairs": True, "stagger_s": 1},
    )
    if fake is not None:
        for path in folder.glob("*.json"):
            if path.name != "fleet.json":
                cfg = json.loads(path.read_text())
                cfg["exchange"]["api_base_url"] = fake.url
                cfg["timeframe"] = "1m"  # the fake serves 1m klines only (swing bots: 5m/15m)
                path.write_text(json.dumps(cfg))
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", "fleet", "run", str(folder)]
    if args.mode == "replay":
        cmd += ["--speed", str(args.speed), "--from", "2023-04-10"]
    sup = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    first: dict[int, float] = {}
    peak_rss, rss_samples = 0, []
    try:
        while time.monotonic() - t0 < args.warmup + args.seconds:
            now = sample(tmp)
            total = sum(r for r, _, _ in now.values())
            peak_rss = max(peak_rss, total)
            if time.monotonic() - t0 >= args.warmup:
                rss_samples.append(total)
                for pid, (_, cpu, _) in now.items():
                    first.setdefault(pid, cpu)
            time.sleep(1.0)
        last = sample(tmp)
        wall = args.seconds
        cpu = sum(last[p][1] - first[p] for p in last if p in first)
        status = subprocess.run(
            [sys.executable, "-m", "optiflow.interfaces.cli.main", "fleet", "status",
             str(folder), "--json"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
    finally:
        sup.send_signal(signal.SIGTERM)
        sup.wait(120)
        if fake is not None:
            fake.stop()
    bots = {p: v for p, v in last.items() if v[2] == "bot"}
    doc = {
        "mode": args.mode,
        "speed": args.speed if args.mode == "replay" else None,
        "bots": len(bots),
        "seconds": wall,
        "rss_total_mb": round(sum(v[0] for v in last.values()) / 2**20, 1),
        "rss_mean_total_mb": round(sum(rss_samples) / max(1, len(rss_samples)) / 2**20, 1),
        "rss_peak_total_mb": round(peak_rss / 2**20, 1),
        "rss_per_bot_mb": sorted(round(v[0] / 2**20, 1) for v in bots.values()),
        "rss_supervisor_mb": [round(v[0] / 2**20, 1) for v in last.values() if v[2] != "bot"],
        "cpu_pct_of_one_core": round(100 * cpu / wall, 2),
        "last_cycle_age_s": {
            n: s["last_cycle_age_s"] for n, s in (json.loads(status) if status else {}).items()
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    print(json.dumps(doc, indent=1))
    out = args.out or REPO / "bench" / "results" / f"fleet_{args.mode}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
