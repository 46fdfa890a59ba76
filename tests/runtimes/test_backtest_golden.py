"""Golden backtest: preset A on bundled real data gives exactly the recorded trade list."""

from __future__ import annotations

import csv
import os
from decimal import Decimal
from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.domain.results import BotRun
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import run_backtest

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "preset_a_2023-04-03_2023-04-10.csv"
COLUMNS = [
    "position_id",
    "symbol",
    "ts_entry",
    "ts_exit",
    "entry_price",
    "exit_price",
    "qty",
    "fees",
    "net_pnl",
    "reason",
]


def run_a() -> BotRun:
    """Preset A, one week of bundled BTC/ETH/ADA candles."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    data = load_folder(
        REPO / "data" / "binance_spot_1m",
        list(cfg.pairs),
        parse_when("from", "2023-04-03"),
        parse_when("to", "2023-04-10"),
    )
    return run_backtest(cfg, data)


def rows(run: BotRun) -> list[list[str]]:
    """The exit rows as strings, exactly."""
    return [[str(getattr(e, c)) for c in COLUMNS] for e in run.exits]


def test_preset_a_trade_list_is_exactly_the_golden_one() -> None:
    """Every exit fill (time, price, quantity, fees, net pnl, reason) matches the golden file."""
    run = run_a()
    got = rows(run)
    if os.environ.get("OPTIFLOW_REGEN_GOLDEN") == "1":
        with GOLDEN.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(COLUMNS)
            w.writerows(got)
    with GOLDEN.open(newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == COLUMNS
        expected = list(reader)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g == e


def test_golden_run_books_add_up() -> None:
    """Cash moves by exactly the sum of net PnL; the simulated exchange holds the same USDT."""
    run = run_a()
    net = sum((e.net_pnl for e in run.exits), Decimal(0))
    assert run.final_balance == run.starting_balance + net
    assert Decimal(str(run.extra["sim_balances"]["USDT"])) == run.final_balance  # type: ignore[index]
    by_pos: dict[str, Decimal] = {}
    for e in run.exits:
        by_pos[e.position_id] = by_pos.get(e.position_id, Decimal(0)) + e.qty
    assert len(by_pos) == run.positions_opened
