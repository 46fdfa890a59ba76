"""OptiFlow against its peers, in one run on the same data (issue 12, "Proof required").

Rows measured, each ``--repeat`` times (best and median), the runs of one round back to back:

* case ``a``: the reference config on 46 days x BTC/ETH/ADA, whole process: OptiFlow
  (``bench/run_bench.py``'s own child process, ``run_child``) against Freqtrade 2026.9
  ``freqtrade backtesting`` (target: OptiFlow >= 15x faster);
* case ``x8``: the same 46 days repeated 8 times (1.59 M candles), whole process: OptiFlow
  against vectorbt 1.2.0 ``Portfolio.from_signals`` (``bench/peers/vectorbt_reference.py``;
  target >= 2.5x), and with ``--freqtrade-x8`` Freqtrade on it too;

plus the peak RSS and CPU time of every process. The peers live in throw-away venvs
(``--setup`` creates the missing ones with pinned versions); a peer whose venv is missing is
skipped with one line. Freqtrade reads our candles converted to its own format
(``bench/peers/freqtrade_data.py``) and loads Binance's markets from a local static
``exchangeInfo`` (``bench/peers/markets_server.py``): only PyPI is reachable here.

Usage (from the repository root)::

    .venv/bin/python bench/run_peers.py --setup             # make /tmp/vbt and /tmp/ft once
    .venv/bin/python bench/run_peers.py --repeat 3          # measure; bench/results/peers.json
    .venv/bin/python bench/run_peers.py --freqtrade-x8      # also Freqtrade on the 1.59 M
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import run_bench as rb

PEERS = rb.REPO / "bench" / "peers"
VBT_PIN = "vectorbt==1.2.0"
FT_PIN = "freqtrade==2026.9"  # pulls TA-Lib (the ``ta-lib`` wheels of PyPI)
STRATEGY = "ReferenceEmaRsi"
TARGETS = {"a": 15.0, "x8": 2.5}
SEP = r"[\s│┃|]+"  # a table cell border (not \W: it would eat a minus sign)
ROW_RE = re.compile(rf"^\W*{STRATEGY}{SEP}(\d+){SEP}(-?[\d.]+){SEP}(-?[\d.]+)")


@dataclass
class Run:
    """One whole-process run: wall and CPU seconds, peak RSS, what it traded."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    trades: int
    pnl: float | None = None
    load_avg_1m: float = 0.0


@dataclass
class Series:
    """Every run of one program on one case."""

    who: str
    case: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""
    errors: list[str] = field(default_factory=list)

    def best(self) -> Run | None:
        """The fastest run (wall time)."""
        return min(self.runs, key=lambda r: r.wall_s) if self.runs else None

    def median(self, attr: str = "wall_s") -> float | None:
        """The median of one figure over the runs."""
        return statistics.median(getattr(r, attr) for r in self.runs) if self.runs else None


# --------------------------------------------------------------------------- setup


def venv_python(venv: Path) -> Path:
    """The interpreter of a venv."""
    return venv / "bin" / "python"


def setup(vbt: Path, ft: Path) -> None:
    """Create the missing peer venvs (pinned versions) and Freqtrade's user folder."""
    for venv, pin in ((vbt, VBT_PIN), (ft, FT_PIN)):
        if venv_python(venv).exists():
            print(f"setup: {venv} exists, kept")
            continue
        for cmd in (
            [sys.executable, "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "-q", pin],
        ):
            print("setup:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
    if (ft / "bin" / "freqtrade").exists() and not (ft / "ud").exists():
        cmd = [str(ft / "bin" / "freqtrade"), "create-userdir", "--userdir", str(ft / "ud")]
        print("setup:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, capture_output=True)


def versions(venv: Path, names: Sequence[str]) -> dict[str, str]:
    """Installed versions of some distributions in a venv."""
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    if not venv_python(venv).exists():
        return {}
    proc = subprocess.run(
        [str(venv_python(venv)), "-c", code, *names], capture_output=True, text=True, check=False
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def freqtrade_data(ft: Path, src: Path, name: str) -> Path:
    """Freqtrade's data folder for ``src`` (converted once; a marker file says it is done)."""
    out = ft / "ud" / "data" / name
    if not (out / "complete").exists():
        cmd = [str(venv_python(ft)), str(PEERS / "freqtrade_data.py"), str(src), str(out)]
        subprocess.run(cmd, check=True, capture_output=True)
        (out / "complete").write_text("ok\n")
    return out


# --------------------------------------------------------------------------- measuring


def optiflow_run(case: str, fmt: str) -> Run:
    """OptiFlow's whole process on a case, measured exactly as ``bench/run_bench.py`` does."""
    wall, rep = rb.run_child(case, False, fmt)
    return Run(wall, rep["cpu_s"], rep["peak_rss_mb"], rep["trades"])


def peer_run(cmd: Sequence[str], parse: Callable[[str], tuple[int, float]]) -> Run:
    """A peer's whole process: wall, CPU (user + sys) and peak RSS of the child from wait4."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out_f, stderr=err_f, cwd=rb.REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = (err or out).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"exit {proc.returncode}: {tail[0][:300]}")
    trades, pnl = parse(out)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, trades, pnl)


def parse_vbt(out: str) -> tuple[int, float]:
    """Trades and PnL from the last (JSON) line of vectorbt_reference.py."""
    rep = json.loads(out.strip().splitlines()[-1])
    return int(rep["trades"]), float(rep["pnl"])


def parse_freqtrade(out: str) -> tuple[int, float]:
    """Trades and total profit (USDT) from Freqtrade's STRATEGY SUMMARY row."""
    rows = [m for line in out.splitlines() if (m := ROW_RE.match(line))]
    if not rows:
        raise RuntimeError("no STRATEGY SUMMARY row in Freqtrade's output")
    return int(rows[-1].group(1)), float(rows[-1].group(3))


def freqtrade_cmd(ft: Path, cfg: Path, datadir: Path, x8: bool) -> list[str]:
    """``freqtrade backtesting`` of the reference strategy (no export: nothing but the run)."""
    cmd = [str(ft / "bin" / "freqtrade"), "backtesting", "--userdir", str(ft / "ud")]
    cmd += ["-c", str(cfg), "--strategy", STRATEGY, "--datadir", str(datadir)]
    cmd += ["--export", "none", "--cache", "none"]
    if x8:  # a wallet that never runs dry, as OptiFlow's x8 case
        cmd += ["--dry-run-wallet", str(rb.X8_BALANCE)]
    return cmd


# --------------------------------------------------------------------------- report


def fmt_pair(s: Series | None, attr: str = "wall_s", digits: int = 2) -> str:
    """``best / median`` of a figure, or a dash."""
    if s is None or not s.runs:
        return "-"
    best = min(getattr(r, attr) for r in s.runs)
    return f"{best:.{digits}f} / {s.median(attr):.{digits}f}"


def max_rss(s: Series) -> float:
    """The highest peak RSS over the runs (MiB)."""
    return max(r.peak_rss_mb for r in s.runs)


def ratios(ours: Series, peer: Series) -> dict[str, float] | None:
    """Peer time over OptiFlow's: best/best and median/median, wall and CPU."""
    if not ours.runs or not peer.runs:
        return None
    out: dict[str, float] = {}
    for attr in ("wall_s", "cpu_s"):
        ob, pb = (min(getattr(r, attr) for r in s.runs) for s in (ours, peer))
        om, pm = ours.median(attr), peer.median(attr)
        assert om is not None and pm is not None
        out[f"{attr}_best"], out[f"{attr}_median"] = pb / ob, pm / om
    return out


def verdict(r: dict[str, float], attr: str, target: float) -> str:
    """``yes`` (median ratio meets the target), ``best only`` or ``no``."""
    if r[f"{attr}_median"] >= target:
        return "yes"
    return "best only" if r[f"{attr}_best"] >= target else "no"


def table(pairs: Sequence[tuple[Series, Series]]) -> list[dict[str, Any]]:
    """Print the comparison table; return its rows for the JSON file."""
    head = "case | OptiFlow s best/med | peer | peer s best/med | ratio best/med (CPU) | target"
    print("\n" + head + " | met (median) | peak RSS MiB OptiFlow / peer | trades OptiFlow / peer")
    rows: list[dict[str, Any]] = []
    for ours, peer in pairs:
        target = TARGETS[ours.case]
        r = ratios(ours, peer)
        if r is None:
            why = peer.skipped or "; ".join(peer.errors) or "no run"
            print(f"{ours.case} | {fmt_pair(ours)} | {peer.who} | {why}")
            rows.append({"case": ours.case, "peer": peer.who, "skipped": why})
            continue
        met = f"wall {verdict(r, 'wall_s', target)}, CPU {verdict(r, 'cpu_s', target)}"
        ob, pb = ours.best(), peer.best()
        assert ob is not None and pb is not None
        ratio = (
            f"{r['wall_s_best']:.1f}x / {r['wall_s_median']:.1f}x "
            f"({r['cpu_s_best']:.1f}x / {r['cpu_s_median']:.1f}x)"
        )
        print(
            f"{ours.case} | {fmt_pair(ours)} | {peer.who} | {fmt_pair(peer)} | {ratio} | "
            f">= {target:g}x | {met} | {max_rss(ours):.0f} / {max_rss(peer):.0f} | "
            f"{ob.trades:,} / {pb.trades:,}"
        )
        rows.append({"case": ours.case, "peer": peer.who, "target": target, "met": met, **r})
        rows[-1] |= {"optiflow_s": fmt_pair(ours), "peer_s": fmt_pair(peer)}
        rows[-1] |= {"optiflow_rss_mb": max_rss(ours), "peer_rss_mb": max_rss(peer)}
        rows[-1] |= {"optiflow_trades": ob.trades, "peer_trades": pb.trades, "peer_pnl": pb.pnl}
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, set up or skip the peers, measure, print and save."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--setup", action="store_true", help="create the missing peer venvs first")
    ap.add_argument("--repeat", type=int, default=3, help="runs of every measurement")
    ap.add_argument("--freqtrade-x8", action="store_true", help="also Freqtrade on x8 (slow)")
    ap.add_argument(
        "--format",
        default="columns",
        choices=["columns", "csv"],
        help="OptiFlow's candle files (as bench/run_bench.py; the peers read the CSVs)",
    )
    ap.add_argument("--vbt-venv", type=Path, default=Path("/tmp/vbt"))
    ap.add_argument("--ft-venv", type=Path, default=Path("/tmp/ft"))
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed first run each")
    ap.add_argument("--out", type=Path, default=rb.RESULTS / "peers.json")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    if args.setup:
        setup(args.vbt_venv, args.ft_venv)

    from bench_data import spot_folder, x8_folder

    spot_folder(args.format)
    x8_csv = x8_folder("csv")  # the peers read the gzip CSVs
    x8_folder(args.format)

    jobs: list[tuple[Series, Callable[[], Run]]] = []
    of_a = Series("OptiFlow", "a", [sys.executable, "bench/run_bench.py", "--case", "a", "--child"])
    of_x8 = Series("OptiFlow", "x8", [*of_a.command[:3], "x8", "--child"])
    jobs += [(of_a, lambda: optiflow_run("a", args.format))]
    jobs += [(of_x8, lambda: optiflow_run("x8", args.format))]

    ft, vbt = args.ft_venv, args.vbt_venv
    ft_a = Series("Freqtrade", "a", [])
    ft_x8 = Series("Freqtrade", "x8", [])
    vb_x8 = Series("vectorbt", "x8", [])
    server = None
    if not (ft / "bin" / "freqtrade").exists():
        ft_a.skipped = ft_x8.skipped = f"skip Freqtrade: {ft}/bin/freqtrade missing (--setup)"
        print(ft_a.skipped)
    else:
        from peers import markets_server

        server = markets_server.serve()
        cfg = ft / "ud" / "config_bench.json"
        (ft / "ud" / "strategies").mkdir(parents=True, exist_ok=True)
        (ft / "ud" / "strategies" / f"{STRATEGY}.py").write_text(
            (PEERS / f"{STRATEGY}.py").read_text()
        )
        cfg.write_text(json.dumps(markets_server.freqtrade_config(server.server_address[1])))
        try:
            ft_a.command = freqtrade_cmd(ft, cfg, freqtrade_data(ft, rb.DATA_46D, "a"), False)
            jobs.append((ft_a, lambda: peer_run(ft_a.command, parse_freqtrade)))
            if args.freqtrade_x8:
                ft_x8.command = freqtrade_cmd(ft, cfg, freqtrade_data(ft, x8_csv, "x8"), True)
                jobs.append((ft_x8, lambda: peer_run(ft_x8.command, parse_freqtrade)))
        except (OSError, subprocess.CalledProcessError) as exc:
            ft_a.skipped = ft_x8.skipped = f"skip Freqtrade: converting the candles failed: {exc}"
            print(ft_a.skipped)
    if not venv_python(vbt).exists():
        vb_x8.skipped = f"skip vectorbt: {venv_python(vbt)} missing (--setup)"
        print(vb_x8.skipped)
    else:
        vb_x8.command = [str(venv_python(vbt)), str(PEERS / "vectorbt_reference.py"), str(x8_csv)]
        jobs.append((vb_x8, lambda: peer_run(vb_x8.command, parse_vbt)))

    rounds = range(args.repeat) if args.no_warmup else range(-1, args.repeat)
    for k in rounds:
        for series, job in jobs:
            load = os.getloadavg()[0]
            label = "warm-up" if k < 0 else f"run {k + 1}/{args.repeat}"
            try:
                run = job()
            except Exception as exc:  # a peer failing must not stop the bench
                series.errors.append(f"{label}: {exc}")
                print(f"{series.who} {series.case} {label}: FAILED {exc}", flush=True)
                continue
            run.load_avg_1m = load
            print(
                f"{series.who} {series.case} {label}: {run.wall_s:.2f} s wall, "
                f"{run.cpu_s:.2f} s CPU, {run.peak_rss_mb:.0f} MiB, {run.trades:,} trades, "
                f"load {load:.2f}",
                flush=True,
            )
            if k >= 0:
                series.runs.append(run)
    if server is not None:
        server.shutdown()

    pairs = [(of_a, ft_a), (of_x8, vb_x8)] + ([(of_x8, ft_x8)] if args.freqtrade_x8 else [])
    rows = table(pairs)
    payload = {
        "machine": rb.machine(),
        "load_avg_at_end": os.getloadavg(),
        "options": {k: str(v) for k, v in vars(args).items()},
        "peer_versions": {
            "vectorbt": versions(vbt, ["vectorbt", "numba", "pandas", "numpy"]),
            "freqtrade": versions(ft, ["freqtrade", "TA-Lib", "pandas", "numpy", "ccxt"]),
        },
        "table": rows,
        "series": [asdict(s) for s in (of_a, of_x8, ft_a, vb_x8, ft_x8)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
