"""Shipped presets load, carry the SPEC values, and are found by short name."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.config.presets import default_configs_dir, find_config, preset_names
from optiflow.domain.errors import UserInputError

PRESET_FILES = [
    "runtime_config_optiscalpA.json",
    "runtime_config_optiscalpB.json",
    "runtime_config_optiscalpC.json",
    "runtime_config_swing1.json",
    "runtime_config_swing2.json",
    "reference_ema_rsi.json",
]


@pytest.mark.parametrize("fname", PRESET_FILES)
def test_every_preset_loads(fname: str) -> None:
    """Each shipped preset file exists and validates."""
    cfg = load_config(default_configs_dir() / fname)
    assert cfg.mode == "paper"
    assert cfg.direction == "long" and cfg.exchange.market == "spot"


def test_all_json_in_configs_dir_load() -> None:
    """Every JSON file in configs/ is a valid bot config (no stray broken presets)."""
    names = preset_names()
    assert len(names) >= len(PRESET_FILES)
    for path in names.values():
        load_config(path)


@pytest.mark.parametrize(
    ("fname", "name", "pairs", "tp1", "tp2", "sl", "interval", "max_pos", "stake", "daily"),
    [
        ("runtime_config_optiscalpA.json", "OptiScalp_A", ("BTC", "ETH", "ADA"),
         0.30, 0.60, 0.60, 20, 2, 150, (15, 25)),
        ("runtime_config_optiscalpB.json", "OptiScalp_B", ("SOL", "DOGE", "LTC"),
         0.25, 0.50, 0.50, 15, 2, 150, (20, 30)),
        ("runtime_config_optiscalpC.json", "OptiScalp_C", ("XRP", "AVAX", "MATIC"),
         0.20, 0.40, 0.40, 10, 3, 120, (30, 40)),
    ],
)  # fmt: skip
def test_scalper_presets_match_spec(
    fname: str,
    name: str,
    pairs: tuple[str, ...],
    tp1: float,
    tp2: float,
    sl: float,
    interval: float,
    max_pos: int,
    stake: int,
    daily: tuple[int, int],
) -> None:
    """OptiScalp A/B/C carry the SPEC section 2 table values and common defaults."""
    cfg = load_config(default_configs_dir() / fname)
    assert cfg.name == name
    assert cfg.pairs == tuple(f"{p}/USDT" for p in pairs)
    ex = cfg.exits
    assert (ex.tp1_pct, ex.tp2_pct, ex.sl_pct) == (tp1, tp2, sl)
    assert (ex.timeout_min, ex.timeout_min_pnl_pct, ex.max_hold_min) == (60, 1.0, 120)
    assert ex.auto_profit_pct == 3.0 and ex.stepwise.enabled
    assert (cfg.interval_s, cfg.max_positions) == (interval, max_pos)
    assert cfg.capital.stake_usdt == Decimal(stake)
    assert cfg.signals.primary == ("ema_trend", "breakout")
    assert cfg.signals.confirming == ("rsi_band", "macd_rising")
    f = cfg.filters
    assert f.spread.max_pct == 0.4 and f.notional.min_usdt == Decimal(50)
    assert f.blacklist.stop_losses == 3 and f.blacklist.pause_min == 120
    assert all(getattr(f, n).enabled for n in type(f).model_fields)
    assert cfg.targets is not None
    assert (cfg.targets.daily_usd_min, cfg.targets.daily_usd_max) == tuple(map(Decimal, daily))
    assert (cfg.targets.deposit_usd_min, cfg.targets.deposit_usd_max) == (
        Decimal(300),
        Decimal(500),
    )


def test_swing_presets_are_tp2_only() -> None:
    """Swing presets have no TP1, no stepwise, no timeout and hold up to 4 h."""
    for fname, timeframe in [
        ("runtime_config_swing1.json", "5m"),
        ("runtime_config_swing2.json", "15m"),
    ]:
        cfg = load_config(default_configs_dir() / fname)
        assert cfg.timeframe == timeframe
        assert cfg.exits.tp1_pct is None and cfg.exits.timeout_min is None
        assert not cfg.exits.stepwise.enabled and cfg.exits.max_hold_min == 240
        assert cfg.targets is None
    swing1 = load_config(default_configs_dir() / "runtime_config_swing1.json")
    assert (swing1.exits.tp2_pct, swing1.exits.sl_pct) == (1.2, 0.8)
    assert swing1.filters.cooldown.seconds == 900


def test_reference_preset_disables_every_extra() -> None:
    """The EMA/RSI reference is TP2-only with every optional filter and extra exit off."""
    cfg = load_config(default_configs_dir() / "reference_ema_rsi.json")
    assert cfg.signals.primary == ("ema_trend",) and cfg.signals.confirming == ("rsi_band",)
    assert (cfg.signals.rsi_low, cfg.signals.rsi_high) == (50, 70)
    assert (cfg.exits.tp1_pct, cfg.exits.tp2_pct, cfg.exits.sl_pct) == (None, 0.3, 0.6)
    assert cfg.exits.auto_profit_pct is None and cfg.exits.timeout_min is None
    assert cfg.exits.max_hold_min == 60 and not cfg.exits.breakeven_after_tp1
    assert not any(getattr(cfg.filters, n).enabled for n in type(cfg.filters).model_fields)
    assert not cfg.reactive_entry and cfg.costs.slippage_pct == 0
    assert cfg.capital.starting_balance_usdt == Decimal(1000)
    assert cfg.capital.stake_usdt == Decimal(100)


@pytest.mark.parametrize(
    ("name", "fname"),
    [
        ("A", "runtime_config_optiscalpA.json"),
        ("c", "runtime_config_optiscalpC.json"),
        ("optiscalpB", "runtime_config_optiscalpB.json"),
        ("OptiScalp_A", "runtime_config_optiscalpA.json"),
        ("swing1", "runtime_config_swing1.json"),
        ("runtime_config_swing2", "runtime_config_swing2.json"),
        ("reference_ema_rsi", "reference_ema_rsi.json"),
        ("reference_ema_rsi.json", "reference_ema_rsi.json"),
    ],
)
def test_find_config_by_short_name(name: str, fname: str) -> None:
    """Short names, bot names and file stems all select the right preset."""
    assert find_config(name) == default_configs_dir() / fname


def test_find_config_accepts_a_path(tmp_path: Path) -> None:
    """An existing file path is returned as is."""
    path = tmp_path / "mine.json"
    path.write_text("{}", encoding="utf-8")
    assert find_config(path) == path


def test_find_config_unknown_lists_presets() -> None:
    """An unknown name raises UserInputError listing the available presets."""
    with pytest.raises(UserInputError) as info:
        find_config("Z")
    message = str(info.value)
    assert "'Z'" in message and "optiscalpA" in message and "reference_ema_rsi" in message
