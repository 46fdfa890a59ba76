"""Shared fixtures: config builders and paths of the bundled data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optiflow.config.models import BotConfig

REPO = Path(__file__).resolve().parents[1]
DATA_1M = REPO / "data" / "binance_spot_1m"
CONFIGS = REPO / "configs"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


BASE: dict[str, Any] = {
    "name": "T",
    "pairs": ["BTC/USDT"],
    "signals": {"primary": ["ema_trend"], "confirming": ["rsi_band"]},
    "markets": {"BTC/USDT": {"price_tick": "0.01", "amount_step": "0.001", "min_notional": "5"}},
}


@pytest.fixture
def make_config() -> Callable[..., BotConfig]:
    """Build a BotConfig from the test base, with nested overrides."""

    def build(**over: Any) -> BotConfig:
        return BotConfig.model_validate(_merge(BASE, over))

    return build


@pytest.fixture
def repo() -> Path:
    """The repository root."""
    return REPO
