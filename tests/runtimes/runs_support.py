"""Shared test inputs (a bundled config on bundled candles) and checks that two backtest
runs made exactly the same trading decisions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.config.models import BotConfig
from optiflow.domain.results import BotRun
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import CandleArrays, load_folder
from optiflow.runtimes.backtest import run_backtest

REPO = Path(__file__).resolve().parents[2]


def bundled(config: str, start: str, end: str) -> tuple[BotConfig, dict[str, CandleArrays]]:
    """``configs/CONFIG`` and its pairs' bundled 1m candles from ``start`` to ``end``."""
    cfg = load_config(REPO / "configs" / config)
    data = load_folder(
        REPO / "data" / "binance_spot_1m",
        list(cfg.pairs),
        parse_when("from", start),
        parse_when("to", end),
    )
    return cfg, data


def assert_same_run(a: BotRun, b: BotRun, *, min_exits: int = 1) -> None:
    """Same exits, counters, near misses, equity, balance and positions (and some exits)."""
    assert len(a.exits) >= min_exits
    assert a.exits == b.exits
    assert a.stats == b.stats
    assert a.near_misses == b.near_misses
    assert a.equity_curve == b.equity_curve
    assert a.final_balance == b.final_balance
    assert a.positions_opened == b.positions_opened


def assert_feeds_equal(cfg: BotConfig, data: Mapping[str, CandleArrays]) -> tuple[BotRun, BotRun]:
    """Run the fast feed and the every-candle feed on ``data``; assert the same run; return
    (fast, slow) for further checks."""
    fast = run_backtest(cfg, data, fast=True)
    slow = run_backtest(cfg, data, fast=False)
    assert_same_run(fast, slow)
    return fast, slow
