"""The fast feed pauses the cyclic garbage collector only while it runs, and restores it."""

from __future__ import annotations

import gc

from optiflow.runtimes.backtest import gc_paused, run_backtest
from tests.runtimes.runs_support import bundled


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
    cfg, data = bundled("runtime_config_optiscalpA.json", "2023-04-03", "2023-04-04")
    assert gc.isenabled()
    run = run_backtest(cfg, data, fast=True)
    assert run.candles_processed > 0
    assert gc.isenabled()
