"""The fast feed pauses the cyclic garbage collector only while it runs, and restores it."""

from __future__ import annotations

import gc
from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import gc_paused, run_backtest

REPO = Path(__file__).resolve().parents[2]


def test_gc_is_off_inside_and_back_on_after() -> None:
    """Inside the block the collector is off; after it, on again (also after an error)."""
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    try:
        with gc_paused():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_gc_left_off_when_the_caller_had_it_off() -> None:
    """A caller that switched the collector off finds it still off afterwards."""
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_fast_backtest_restores_the_collector() -> None:
    """A real fast backtest (preset A, one day of bundled data) leaves the collector on."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    data = load_folder(
        REPO / "data" / "binance_spot_1m",
        list(cfg.pairs),
        parse_when("from", "2023-04-03"),
        parse_when("to", "2023-04-04"),
    )
    assert gc.isenabled()
    run = run_backtest(cfg, data, fast=True)
    assert run.candles_processed > 0
    assert gc.isenabled()
