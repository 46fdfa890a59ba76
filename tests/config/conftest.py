"""Shared helpers for the config tests: a minimal valid config and an error catcher."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from optiflow.config.loader import load_config, parse_config
from optiflow.config.models import BotConfig
from optiflow.domain.errors import ConfigError

MINIMAL: dict[str, Any] = {
    "name": "T",
    "pairs": ["BTC/USDT", "ETH/USDT"],
    "signals": {"primary": ["ema_trend"], "confirming": ["rsi_band"]},
}


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge patch into a copy of base (nested dicts merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    """Write MINIMAL deep-merged with a patch to a temp file and return its path."""

    def write(patch: dict[str, Any]) -> Path:
        """Write the patched config and return its path."""
        path = tmp_path / "bot.json"
        path.write_text(json.dumps(merged(MINIMAL, patch)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def config_error(write_config: Callable[[dict[str, Any]], Path]) -> Callable[..., ConfigError]:
    """Load MINIMAL patched with the given dict and return the ConfigError it raises."""

    def catch(patch: dict[str, Any]) -> ConfigError:
        """Load the patched config and return its ConfigError."""
        path = write_config(patch)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert info.value.file == str(path)
        return info.value

    return catch


@pytest.fixture
def make_config() -> Callable[..., BotConfig]:
    """Build a BotConfig from MINIMAL deep-merged with an optional patch."""

    def make(patch: dict[str, Any] | None = None) -> BotConfig:
        """Validate the patched config."""
        return parse_config(merged(MINIMAL, patch or {}))

    return make
