"""Bad configs raise one ConfigError naming the file, the field, the value and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from optiflow.config.loader import load_config
from optiflow.domain.errors import ConfigError, UserInputError

Catch = Callable[..., ConfigError]


def test_unknown_top_level_key(config_error: Catch) -> None:
    """A misspelt top-level key is named, with a suggestion and the allowed keys."""
    err = config_error({"max_position": 3})
    assert err.field == "max_position" and err.value == 3
    assert err.allowed.startswith("no such key (did you mean max_positions?); allowed keys: ")
    assert "interval_s" in err.allowed


def test_unknown_nested_key(config_error: Catch) -> None:
    """A misspelt nested key is named by its dotted path, allowed keys from that section."""
    err = config_error({"exits": {"tp1_pcts": 0.3}})
    assert err.field == "exits.tp1_pcts"
    assert "did you mean tp1_pct?" in err.allowed
    assert "allowed keys: tp1_pct, tp2_pct, tp1_share, sl_pct" in err.allowed
    assert "interval_s" not in err.allowed


def test_unknown_key_in_filter_section(config_error: Catch) -> None:
    """Keys two levels deep are checked too."""
    err = config_error({"filters": {"spread": {"max": 0.5}}})
    assert err.field == "filters.spread.max"
    assert err.allowed.endswith("allowed keys: enabled, max_pct")


def test_wrong_type(config_error: Catch) -> None:
    """A string where a number belongs names the field and asks for a number."""
    err = config_error({"interval_s": "fast"})
    assert (err.field, err.value, err.allowed) == ("interval_s", "fast", "a number")


def test_wrong_type_whole_number(config_error: Catch) -> None:
    """A fraction where a count belongs asks for a whole number."""
    err = config_error({"max_positions": 2.5})
    assert (err.field, err.allowed) == ("max_positions", "a whole number")


def test_tp1_not_below_tp2(config_error: Catch) -> None:
    """TP1 >= TP2 is rejected on exits.tp1_pct, quoting TP2."""
    err = config_error({"exits": {"tp1_pct": 0.6, "tp2_pct": 0.6}})
    assert err.field == "exits.tp1_pct" and err.value == 0.6
    assert err.allowed.startswith("a number below exits.tp2_pct (0.6)")


def test_stepwise_shares_not_summing_to_one(config_error: Catch) -> None:
    """Shares adding up to 0.9 are rejected, saying what they add up to."""
    err = config_error({"exits": {"stepwise": {"shares": [0.2, 0.2, 0.3, 0.2]}}})
    assert err.field == "exits.stepwise.shares"
    assert "add up to exactly 1 (they add up to 0.9)" in err.allowed


def test_stepwise_levels_must_increase(config_error: Catch) -> None:
    """A level not above the previous one is named by index."""
    err = config_error({"exits": {"stepwise": {"levels_usdt": [0.1, 0.3, 0.2, 0.4]}}})
    assert err.field == "exits.stepwise.levels_usdt[2]"
    assert "above the previous level (0.3)" in err.allowed


def test_stepwise_length_mismatch(config_error: Catch) -> None:
    """Three shares for four levels is rejected."""
    err = config_error({"exits": {"stepwise": {"shares": [0.5, 0.25, 0.25]}}})
    assert err.field == "exits.stepwise.shares"
    assert "4 levels but 3 shares" in err.allowed


@pytest.mark.parametrize("sl", [0, -0.5])
def test_sl_not_positive(config_error: Catch, sl: float) -> None:
    """A stop-loss of zero or less asks for a number > 0."""
    err = config_error({"exits": {"sl_pct": sl}})
    assert (err.field, err.value) == ("exits.sl_pct", sl)
    assert err.allowed == "a number > 0"


def test_unknown_signal_name(config_error: Catch) -> None:
    """An unknown signal is named by list index with the allowed names."""
    err = config_error({"signals": {"primary": ["ema_trend", "golden_cross"]}})
    assert (err.field, err.value) == ("signals.primary[1]", "golden_cross")
    assert err.allowed == "one of ema_trend, ema_cross, breakout, vwap_reclaim"


def test_duplicate_signal(config_error: Catch) -> None:
    """A signal listed twice is named at its second position."""
    err = config_error({"signals": {"confirming": ["rsi_band", "rsi_band"]}})
    assert err.field == "signals.confirming[1]" and "at most once" in err.allowed


def test_both_stakes_set(config_error: Catch) -> None:
    """stake_usdt and stake_fraction together are rejected."""
    err = config_error({"capital": {"stake_usdt": 100, "stake_fraction": 0.3}})
    assert err.field == "capital.stake_fraction"
    assert "set exactly one of the two" in err.allowed


def test_no_stake_set(config_error: Catch) -> None:
    """Neither stake set is rejected too."""
    err = config_error({"capital": {"stake_usdt": None}})
    assert err.field == "capital.stake_usdt" and "exactly one" in err.allowed


def test_short_says_the_same_true_thing_on_spot_and_futures(config_error: Catch) -> None:
    """direction short is refused with one message on spot and futures: long only for now."""
    spot = config_error({"direction": "short"})
    fut = config_error({"direction": "short", "exchange": {"market": "futures"}})
    assert (spot.field, spot.value) == ("direction", "short")
    assert spot.allowed == fut.allowed
    assert "not built yet" in spot.allowed and 'exchange.market = "futures"' in spot.allowed


def test_market_override_for_unknown_pair(config_error: Catch) -> None:
    """A market override for a pair the bot does not trade is rejected."""
    err = config_error({"markets": {"SOL/USDT": {"price_tick": 0.01, "amount_step": 0.001}}})
    assert (err.field, err.value) == ("markets.SOL/USDT", "SOL/USDT")
    assert err.allowed == "a key that is one of pairs: BTC/USDT, ETH/USDT"


def test_bad_pair_format(config_error: Catch) -> None:
    """A lowercase or slash-less pair is named by index."""
    err = config_error({"pairs": ["BTC/USDT", "ethusdt"]})
    assert err.field == "pairs[1]" and "BASE/QUOTE" in err.allowed


def test_multiple_errors_reports_first_and_shows_the_others(config_error: Catch) -> None:
    """With several errors the first in field order is reported and the others are shown."""
    err = config_error({"interval_s": -1, "max_positions": 0, "timeframe": "2m"})
    assert err.field == "timeframe"
    assert err.allowed.startswith("one of 1m, 3m, 5m, 15m, 30m, 1h; also: ")
    assert "interval_s = -1: a number > 0" in err.allowed
    assert "max_positions = 0: a number >= 1" in err.allowed


def test_missing_required_key(write_config: Callable[..., Path], tmp_path: Path) -> None:
    """A config without pairs names pairs as required."""
    path = tmp_path / "nopairs.json"
    path.write_text('{"name": "T", "signals": {"primary": ["ema_trend"], '
                    '"confirming": ["rsi_band"]}}', encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "pairs" and "required" in info.value.allowed


def test_invalid_json_has_line_and_column(tmp_path: Path) -> None:
    """A JSON syntax error names the line and column."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "T",\n  "pairs": ["BTC/USDT",]\n}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == str(path)
    assert err.field == "line 3, column 24"
    assert err.value == '"pairs": ["BTC/USDT",]'
    assert err.allowed.startswith("valid JSON (")


def test_top_level_not_an_object(tmp_path: Path) -> None:
    """A JSON list instead of an object is rejected."""
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.allowed == "a JSON object {...}"


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a ConfigError (a UserInputError: exit 2, no traceback)."""
    path = tmp_path / "nope.json"
    with pytest.raises(UserInputError) as info:
        load_config(path)
    assert isinstance(info.value, ConfigError)
    assert info.value.file == str(path) and "existing JSON config file" in info.value.allowed


def test_error_message_names_everything(config_error: Catch) -> None:
    """The str() of the error carries file, field, value and what is allowed."""
    err = config_error({"exits": {"sl_pct": 0}})
    assert str(err) == f"{err.file}: exits.sl_pct = 0: a number > 0"


def test_tp1_above_an_explicit_tp2_is_still_refused(
    config_error: Callable[..., ConfigError],
) -> None:
    """The TP2 default never overrides a given tp2_pct: TP1 0.7 with TP2 0.6 is refused."""
    err = config_error({"exits": {"tp1_pct": 0.7, "tp2_pct": 0.6}})
    assert err.field == "exits.tp1_pct" and err.value == 0.7
