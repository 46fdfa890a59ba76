"""StaleWatch: the usual cycle's shortcut (age 0) gives what the general path gives."""

from __future__ import annotations

from typing import Any

from optiflow.runtimes.live.staleness import StaleWatch

TF = 60_000


def test_fresh_candle_age_zero_and_episode_flagged_once_then_cleared() -> None:
    """Age 0 while fresh, one warning when stale, cleared and fresh again after a new candle."""
    w = StaleWatch(TF)
    info: dict[str, Any] = {}
    t0 = 1_680_000_000_000
    assert w.check("BTC/USDT", t0, t0 + TF, info) is None
    assert info == {"stale": False, "last_candle_age_s": 0.0}
    assert w.first_seen == {"BTC/USDT": t0 + TF}
    late = t0 + TF + 3 * TF + 1_500
    msg = w.check("BTC/USDT", t0, late, info)
    assert msg is not None and "BTC/USDT: stale data" in msg
    assert info == {"stale": True, "last_candle_age_s": 181.5}
    assert w.check("ETH/USDT", late - TF, late, info) is None  # fresh, while BTC is stale
    assert info == {"stale": False, "last_candle_age_s": 0.0}
    assert w.check("BTC/USDT", t0, late + 1, info) is None  # same episode: no second warning
    assert w.check("BTC/USDT", late - TF, late, info) is None  # a new candle: cleared
    assert info == {"stale": False, "last_candle_age_s": 0.0} and w.stale == set()
    assert w.check("BTC/USDT", t0, late, info) is not None  # a new episode warns again


def test_partial_age_rounded_as_before() -> None:
    """An age between 0 and the limit is reported in seconds, one decimal."""
    w = StaleWatch(TF)
    info: dict[str, Any] = {}
    assert w.check("ADA/USDT", 0, TF + 1_234, info) is None
    assert info == {"stale": False, "last_candle_age_s": 1.2}
