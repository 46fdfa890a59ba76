"""Helpers for fleet tests: build a fleet folder, call the real CLI, find bot processes."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "binance_spot_1m"
CONFIGS = REPO / "configs"
PRESETS = {
    "A": "runtime_config_optiscalpA.json",
    "B": "runtime_config_optiscalpB.json",
    "C": "runtime_config_optiscalpC.json",
    "S1": "runtime_config_swing1.json",
    "S2": "runtime_config_swing2.json",
}
# nine bots over the nine pairs of the bundled data (pairs shared: allow_shared_pairs)
NINE: list[tuple[str, str, list[str] | None]] = [
    ("A", "OptiScalp_A", None),
    ("B", "OptiScalp_B", None),
    ("C", "OptiScalp_C", None),
    ("A", "Scalp_D", ["SOL/USDT", "XRP/USDT"]),
    ("B", "Scalp_E", ["BTC/USDT", "AVAX/USDT"]),
    ("C", "Scalp_F", ["ETH/USDT", "MATIC/USDT"]),
    ("S1", "Swing_1", None),
    ("S2", "Swing_2", None),
    ("S2", "Swing_3", ["XRP/USDT", "DOGE/USDT"]),
]


def preset(key: str) -> dict[str, Any]:
    """A bundled preset config as a dict."""
    data: dict[str, Any] = json.loads((CONFIGS / PRESETS[key]).read_text())
    return data


def make_fleet(
    folder: Path, bots: list[tuple[str, str, list[str] | None]], settings: dict[str, Any]
) -> Path:
    """Write one config per bot (preset, name, pairs) and a fleet.json; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, name, pairs in bots:
        cfg = preset(key)
        cfg["name"] = name
        if pairs is not None:
            cfg["pairs"] = pairs
        (folder / f"{name}.json").write_text(json.dumps(cfg, indent=1))
    (folder / "fleet.json").write_text(json.dumps(settings))
    return folder


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``optiflow`` command line."""
    cmd = [sys.executable, "-m", "optiflow.interfaces.cli.main", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def status(folder: Path) -> dict[str, Any]:
    """``optiflow fleet status DIR --json``."""
    out = cli("fleet", "status", str(folder), "--json")
    assert out.returncode == 0, out.stderr
    doc: dict[str, Any] = json.loads(out.stdout)
    return doc


def _alive(pid: int) -> bool:
    """A live (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def processes_under(root: Path) -> dict[int, list[str]]:
    """Every live process whose command line mentions `root` (bots, supervisors)."""
    found: dict[int, list[str]] = {}
    key = str(root.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(key in a for a in args) and _alive(int(entry.name)):
            found[int(entry.name)] = args
    return found


def bot_processes(root: Path) -> dict[str, list[int]]:
    """Live bot processes per state folder under `root` (``optiflow run`` or a host of several)."""
    per: dict[str, list[int]] = {}
    for pid, args in processes_under(root).items():
        if "run" in args:
            for i, arg in enumerate(args[:-1]):
                if arg == "--state-dir":
                    per.setdefault(args[i + 1], []).append(pid)
    return per


def lock_pid(path: Path) -> int:
    """The pid written in a lock file."""
    return int(path.read_text().strip())


def wait_for(cond: Any, timeout: float, what: str, every: float = 0.3) -> None:
    """Poll `cond()` until true or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_all_under(root: Path) -> None:
    """Test cleanup: SIGKILL anything left that mentions `root`."""
    for pid in processes_under(root):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def fleet_notes(root: Path) -> list[tuple[str, str, str]]:
    """The supervisor's notes in ``root/fleet.sqlite`` (kind, bot, text), oldest first."""
    conn = sqlite3.connect(root / "fleet.sqlite")
    try:
        return conn.execute("SELECT kind, symbol, text FROM notes ORDER BY id").fetchall()
    finally:
        conn.close()


def same_as_backtest(
    folder: Path, root: Path, start: str, end: str, skip: tuple[str, ...] = ()
) -> None:
    """Each bot's stored exits equal its uninterrupted backtest on [start, end); no client
    id twice (nothing lost, nothing executed twice)."""
    from optiflow.adapters.sqlite.store import SqliteStore
    from optiflow.config.loader import load_config
    from optiflow.interfaces.cli.timeparse import parse_when
    from optiflow.marketdata.loaders import load_folder
    from optiflow.runtimes.backtest import run_backtest

    for path in sorted(folder.glob("*.json")):
        if path.name == "fleet.json":
            continue
        cfg = load_config(path)
        if cfg.name in skip:
            continue
        data = load_folder(DATA, list(cfg.pairs), parse_when("f", start), parse_when("t", end))
        expected = run_backtest(cfg, data)
        store = SqliteStore(root / cfg.name / "bot.sqlite", cfg.name)
        try:
            assert tuple(store.exits()) == expected.exits, cfg.name
            ids = [o.client_id for o in store.orders()]
            assert len(ids) == len(set(ids)), cfg.name
        finally:
            store.close()
