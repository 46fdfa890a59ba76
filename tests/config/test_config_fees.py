"""Fee arithmetic checked against hand computation (stake 150, taker 0.1 % per side)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from optiflow.config.fees import fee_table
from optiflow.config.models import BotConfig

# Defaults: tp1 0.30, tp2 0.60, sl 0.60, stake 150, taker 0.1 % per side.
Make = Callable[..., BotConfig]
TINY = Decimal("1e-20")


def test_tp1_tp2_sl_net_figures(make_config: Make) -> None:
    """TP1/TP2/SL: net = g - 0.001 - (1+g)*0.001 of the stake, exactly."""
    table = fee_table(make_config())
    assert table.stake_usdt == Decimal(150)
    # TP1: 0.003 - 0.001 - 1.003*0.001 = 0.000997
    tp1 = table.level("tp1")
    assert (tp1.gross_pct, tp1.net_pct, tp1.net_usdt) == (
        Decimal("0.3"),
        Decimal("0.0997"),
        Decimal("0.14955"),
    )
    # TP2: 0.006 - 0.001 - 1.006*0.001 = 0.003994
    tp2 = table.level("tp2")
    assert (tp2.net_pct, tp2.net_usdt) == (Decimal("0.3994"), Decimal("0.5991"))
    # SL: -0.006 - 0.001 - 0.994*0.001 = -0.007994
    sl = table.level("sl")
    assert (sl.gross_pct, sl.net_pct, sl.net_usdt) == (
        Decimal("-0.6"),
        Decimal("-0.7994"),
        Decimal("-1.1991"),
    )
    assert table.round_trip_fee_pct == Decimal("0.2")


def test_breakeven_win_rates(make_config: Make) -> None:
    """Break-even p = loss / (loss + gain) on net percents."""
    table = fee_table(make_config())
    assert table.breakeven_winrate_tp1 == Decimal("0.7994") / Decimal("0.8991")
    assert table.breakeven_winrate_tp2 == Decimal("0.7994") / Decimal("1.1988")
    assert not table.fees_warning and table.warning is None


def test_stepwise_levels_solve_for_net_dollars(make_config: Make) -> None:
    """Step 1: 150g - 0.15 - 150(1+g)0.001 = 0.10  =>  g = 0.40 / 149.85."""
    table = fee_table(make_config())
    step1 = table.level("step_1")
    assert abs(step1.gross_pct - Decimal(40) / Decimal("149.85")) < TINY
    assert abs(step1.net_usdt - Decimal("0.10")) < TINY
    # Step 4: 149.85 g = 0.40 + 0.30  =>  g = 0.70 / 149.85
    step4 = table.level("step_4")
    assert abs(step4.gross_pct - Decimal(70) / Decimal("149.85")) < TINY
    g = step4.gross_pct / 100
    net = 150 * g - Decimal("0.15") - 150 * (1 + g) * Decimal("0.001")
    assert abs(net - Decimal("0.40")) < TINY


def test_auto_profit_and_timeout_are_net_thresholds(make_config: Make) -> None:
    """AutoProfit 3 % net needs g = (0.03 + 0.002) / 0.999; timeout 1 % net likewise."""
    table = fee_table(make_config())
    ap = table.level("auto_profit")
    assert ap.net_pct == Decimal("3.0") and ap.net_usdt == Decimal("4.5")
    assert abs(ap.gross_pct - Decimal("3.2") / Decimal("0.999")) < TINY
    timeout = table.level("timeout")
    assert abs(timeout.gross_pct - Decimal("1.2") / Decimal("0.999")) < TINY


def test_tp1_below_fees_warns(make_config: Make) -> None:
    """TP1 0.20 % at 0.1 % per side nets -0.0002 %: warning, no break-even rate."""
    table = fee_table(make_config({"exits": {"tp1_pct": 0.2, "tp2_pct": 0.4, "sl_pct": 0.4}}))
    assert table.level("tp1").net_pct == Decimal("-0.0002")
    assert table.fees_warning and table.warning is not None
    assert "does not clear the round-trip fees of 0.2 %" in table.warning
    assert table.breakeven_winrate_tp1 is None


def test_stake_fraction_and_explicit_stake(make_config: Make) -> None:
    """Stake is stake_fraction x starting balance, or the stake passed in."""
    cfg = make_config({"capital": {"starting_balance_usdt": 400, "stake_fraction": 0.25}})
    assert fee_table(cfg).stake_usdt == Decimal(100)
    assert fee_table(cfg, Decimal(300)).level("tp1").net_usdt == Decimal("0.2991")


def test_tp2_only_and_disabled_extras_omit_rows(make_config: Make) -> None:
    """A TP2-only config without stepwise/AutoProfit/timeout lists only TP2 and SL."""
    patch = {
        "exits": {
            "tp1_pct": None,
            "tp2_pct": 0.3,
            "stepwise": {"enabled": False},
            "auto_profit_pct": None,
            "timeout_min": None,
        }
    }
    table = fee_table(make_config(patch))
    assert [lvl.code for lvl in table.levels] == ["tp2", "sl"]
    assert table.breakeven_winrate_tp1 is None
    assert table.breakeven_winrate_tp2 == Decimal("0.7994") / Decimal("0.8991")
