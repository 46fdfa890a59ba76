"""The fast feed and the candle-by-candle (live-path) feed give identical results on real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.marketdata.loaders import load_folder
from tests.runtimes.runs_support import assert_feeds_equal

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data" / "binance_spot_1m"

CASES = [
    # preset A across the 2023-03-24 spot halt (flat zero-volume bars, then 80 missing minutes)
    ("runtime_config_optiscalpA.json", "2023-03-22", "2023-03-27"),
    # B and C: LTC/XRP/AVAX/MATIC start on 2023-04-01 21:0x, mid-window
    ("runtime_config_optiscalpB.json", "2023-03-31", "2023-04-04"),
    ("runtime_config_optiscalpC.json", "2023-04-01", "2023-04-05"),
    ("reference_ema_rsi.json", "2023-04-10", "2023-04-15"),
    ("runtime_config_swing1.json", "2023-04-01", "2023-04-15"),  # 1m resampled to 5m
    # an account that drains below the notional floor: every later candidate is refused
    ("reference_ema_rsi.json@drained", "2023-04-10", "2023-04-20"),
    # one slot, reactive entries: capacity blocks every candidate while a position is open
    ("reference_ema_rsi.json@one_slot", "2023-04-15", "2023-04-20"),
    # preset A with every account filter off: only capacity and balance screen candidates
    ("runtime_config_optiscalpA.json@no_timing", "2023-04-20", "2023-04-25"),
]


@pytest.mark.parametrize(("config", "start", "end"), CASES, ids=[c[0] for c in CASES])
def test_fast_feed_equals_every_candle_feed(config: str, start: str, end: str) -> None:
    """Same exits, counters, near misses, equity and balance, whichever feed drives the engine."""
    name, _, variant = config.partition("@")
    cfg = load_config(REPO / "configs" / name)
    if variant == "drained":
        capital = cfg.capital.model_copy(update={"starting_balance_usdt": 101})
        cfg = cfg.model_copy(update={"capital": capital})
    if variant == "one_slot":
        cfg = cfg.model_copy(update={"max_positions": 1, "reactive_entry": True})
    if variant == "no_timing":
        off = {k: v.model_copy(update={"enabled": False}) for k, v in cfg.filters if k in (
            "cooldown", "rate", "blacklist")}  # fmt: skip
        cfg = cfg.model_copy(update={"filters": cfg.filters.model_copy(update=off)})
    data = load_folder(DATA, list(cfg.pairs), parse_when("from", start), parse_when("to", end))
    fast, slow = assert_feeds_equal(cfg, data)
    shadows = fast.extra["shadow_outcomes"]
    assert shadows == slow.extra["shadow_outcomes"]  # identical shadow outcomes too
    assert fast.extra["shadow_top_missed"] == slow.extra["shadow_top_missed"]
    blocked: dict[str, int] = {}
    for _, st in fast.stats:
        for reason, n in st.rejections:
            blocked[reason] = blocked.get(reason, 0) + n
    assert {r: v["blocked"] for r, v in shadows.items()} == blocked
    if variant == "drained":
        rejections = dict(dict(fast.stats)["BTC/USDT"].rejections)
        assert rejections.get("notional", 0) + rejections.get("balance", 0) > 100


def test_first_traded_cross_skips_bars_not_traded() -> None:
    """The fast feed's band search reads the price columns as they are: a bar not traded
    (zero volume or no candle) never triggers, the next traded crossing does."""
    import numpy as np

    from optiflow.runtimes.backtest import _first_traded_cross

    lo = np.array([10.0, 10, 10, 1, 10, 10, 2, 10])
    hi = np.array([11.0, 11, 11, 11, 11, 11, 11, 99])
    untraded = np.zeros(8, dtype=bool)
    untraded[[3, 7]] = True
    assert _first_traded_cross(lo, hi, None, 0, 8, (5.0, 50.0)) == 3
    assert _first_traded_cross(lo, hi, untraded, 0, 8, (5.0, 50.0)) == 6
    assert _first_traded_cross(lo, hi, untraded, 0, 6, (5.0, 50.0)) == 6  # none: stop
    assert _first_traded_cross(lo, hi, untraded, 7, 8, (5.0, 50.0)) == 8
