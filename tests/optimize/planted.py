"""Synthetic candles with a planted best TP/SL pair, and the matching config and space."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

START_MS = 1_680_307_200_000  # 2023-04-01T00:00Z
CYCLE = 120  # minutes per cycle: a slow fall, then a rise that either runs or fails


def _cycle(fails: bool) -> list[float]:
    """Relative price path of one cycle (1.0 = the cycle's base)."""
    path = [1.0 + 0.004 * (1 - i / 60) for i in range(60)]  # drift down to the base
    level = 1.0
    up = [0.0005] * 10  # +0.5 %: the EMA cross and the entry come early in here
    dip = [-0.001] * 6  # -0.6 %: a stop tighter than that is hit here
    run = [0.0] if fails else [0.0012] * 10  # +1.2 %: reaches a 0.6 % target, not 1.5 %
    for step in up + dip + run:
        level += step
        path.append(level)
    crash = [-0.002] * 15  # -3 %: a wide stop loses a lot here
    for step in crash:
        level += step
        path.append(level)
    while len(path) < CYCLE:
        path.append(level + (1.004 - level) * (len(path) - 60) / (CYCLE - 60))
    return path


def write_candles(folder: Path, days: int) -> Path:
    """BTC-USDT 1m candles for ``days`` days: every 4th cycle's rise fails."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, prev = ["timestamp_ms,open,high,low,close,volume"], 100.0
    for c in range(days * 1440 // CYCLE):
        for i, rel in enumerate(_cycle(c % 4 == 3)):
            ts = START_MS + (c * CYCLE + i) * 60_000
            close = round(100.0 * rel, 2)
            hi, lo = max(prev, close) + 0.01, min(prev, close) - 0.01
            rows.append(f"{ts},{prev},{hi:.2f},{lo:.2f},{close},{10 + (i % 3)}")
            prev = close
    path = folder / "BTC-USDT_1m.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


CONFIG: dict[str, Any] = {
    "name": "Planted",
    "pairs": ["BTC/USDT"],
    "max_positions": 1,
    "capital": {"starting_balance_usdt": 400, "stake_usdt": 150},
    "indicators": {"ema_fast": 3, "ema_slow": 8},
    "signals": {
        "primary": ["ema_cross"],
        "confirming": ["rsi_band"],
        "rsi_low": 0,
        "rsi_high": 100,
    },
    "filters": {
        "volume": {"enabled": False},
        "atr": {"enabled": False},
        "cooldown": {"enabled": False},
        "rate": {"enabled": False},
        "blacklist": {"enabled": False},
    },
    "exits": {
        "tp1_pct": None,
        "tp2_pct": 0.6,
        "sl_pct": 0.5,
        "stepwise": {"enabled": False},
        "auto_profit_pct": None,
        "timeout_min": None,
        "max_hold_min": None,
    },
    "markets": {"BTC/USDT": {"price_tick": "0.01", "amount_step": "0.00001", "min_notional": "5"}},
}
SPACE: dict[str, Any] = {
    "$only": True,
    "exits.tp2_pct": {"type": "categorical", "choices": [0.3, 0.6, 1.5]},
    "exits.sl_pct": {"type": "categorical", "choices": [0.2, 0.5, 2.0]},
}
BEST = {"exits.tp2_pct": 0.6, "exits.sl_pct": 0.5}


def write_setup(tmp: Path, days: int = 4) -> tuple[Path, Path, Path]:
    """(config file, data folder, space file) of the planted scenario under ``tmp``."""
    cfg = tmp / "runtime_config_planted.json"
    cfg.write_text(json.dumps(CONFIG))
    space = tmp / "space.json"
    space.write_text(json.dumps(SPACE))
    data = tmp / "data"
    write_candles(data, days)
    return cfg, data, space
