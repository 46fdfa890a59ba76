"""The optimizer's features cache: one indicator computation per setting, identical results."""

from __future__ import annotations

from pathlib import Path

from optiflow.config.loader import load_config
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.features import FeatureCache
from optiflow.marketdata.loaders import load_folder
from optiflow.runtimes.backtest import run_backtest
from tests.runtimes.runs_support import assert_same_run

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "binance_spot_1m"


def test_cached_features_give_the_same_runs_and_are_reused() -> None:
    """Runs with other exit settings reuse the arrays; other indicator periods recompute."""
    cfg = load_config(REPO / "configs" / "runtime_config_optiscalpA.json")
    data = load_folder(
        DATA, list(cfg.pairs), parse_when("from", "2023-04-03"), parse_when("to", "2023-04-06")
    )
    cache = FeatureCache()
    wider = cfg.model_copy(update={"exits": cfg.exits.model_copy(update={"sl_pct": 1.7})})
    slower = cfg.model_copy(
        update={"indicators": cfg.indicators.model_copy(update={"rsi_period": 21})}
    )
    for variant in (cfg, wider, cfg, slower):
        plain = run_backtest(variant, data)
        cached = run_backtest(variant, data, feature_cache=cache)
        assert_same_run(cached, plain)
    pairs = len(cfg.pairs)
    assert cache.misses == 2 * pairs  # cfg's settings once, rsi_period 21 once
    assert cache.hits == 2 * pairs  # wider and the second cfg run reuse cfg's arrays
