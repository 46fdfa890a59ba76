"""Runtime health, the log tail and a day's trades file of one bot, from its state folder."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from optiflow.adapters.files.statedir import LOCK_FILE, running_pid
from optiflow.queries.view import BotView

LOG_MAX_LINES = 200


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """How the bot runs: mode, exchange, uptime, cycles, cycle times, prices, memory."""

    mode: str
    exchange: str
    pid: int | None
    running: bool
    uptime_s: float | None
    cycles: int | None
    last_cycle_age_s: float | None
    cycle_ms_p50: float | None
    cycle_ms_p99: float | None
    prices: str
    rss_mb: float | None


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (Linux /proc), None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of the values, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def runtime(view: BotView) -> RuntimeInfo:
    """The bot's runtime health from bot.lock, its state files and /proc."""
    mon = view.monitoring()
    info, symbols = mon.get("bot", {}), mon.get("symbols", {})
    lock = view.state_dir / LOCK_FILE
    held = running_pid(view.state_dir)
    pid = held if held is not None and held > 0 else None
    running = pid is not None and _pid_alive(pid)
    now = time.time()
    uptime = now - lock.stat().st_mtime if running else None
    cycle_ms = [float(b["last_cycle_ms"]) for b in symbols.values() if b.get("last_cycle_ms")]
    cycled = [
        p.stat().st_mtime for p in [view.state_dir / "debug_monitoring_summary.json"] if p.exists()
    ]
    cycles = info.get("cycles")
    cfg = view.cfg
    exchange = f"{cfg.exchange.id} {cfg.exchange.market}" if cfg is not None else "?"
    return RuntimeInfo(
        mode=str(info.get("mode", "?")),
        exchange=exchange,
        pid=pid,
        running=running,
        uptime_s=uptime,
        cycles=int(cycles) if isinstance(cycles, int) else None,
        last_cycle_age_s=now - cycled[0] if cycled else None,
        cycle_ms_p50=_quantile(cycle_ms, 0.5),
        cycle_ms_p99=_quantile(cycle_ms, 0.99),
        prices=str(info.get("prices", "candles" if info.get("mode") == "replay" else "?")),
        rss_mb=_rss_mb(pid) if running and pid is not None else None,
    )


def log_tail(view: BotView, n: int) -> list[str]:
    """The last ``n`` lines (1..LOG_MAX_LINES) of the bot's log."""
    n = max(1, min(n, LOG_MAX_LINES))
    try:
        with view.log_file().open(encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=n)]
    except OSError:
        return []


def daily_csv(view: BotView, day: date) -> Path | None:
    """The ``trades_YYYY-MM-DD.csv`` of that UTC day, or None when the bot wrote none."""
    path = view.state_dir / f"trades_{day.isoformat()}.csv"
    return path if path.is_file() else None
