"""Hand-computed cases for every rung of the exit ladder (SPEC §6)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from optiflow.decisions.ladder import (
    ExitDecision,
    LadderParams,
    breakeven_price,
    evaluate,
    evaluate_sweep,
    make_levels,
    triggers,
)
from optiflow.portfolio.position import Position

MIN = 60_000
T0 = 1_680_000_000_000
STEP = Decimal("0.001")


def params(**kw: object) -> LadderParams:
    """Preset-A-like ladder params with overrides."""
    base: dict[str, object] = dict(
        sl_pct=0.6,
        tp1_pct=0.3,
        tp2_pct=0.6,
        tp1_share=Decimal("0.5"),
        breakeven_after_tp1=True,
        step_levels_usdt=(Decimal("0.10"), Decimal("0.20"), Decimal("0.30"), Decimal("0.40")),
        step_shares=(Decimal("0.2"), Decimal("0.2"), Decimal("0.3"), Decimal("0.3")),
        auto_profit_pct=3.0,
        timeout_min=60.0,
        timeout_min_pnl_pct=1.0,
        max_hold_min=120.0,
        fee_in=0.001,
        fee_out=0.001,
    )
    base.update(kw)
    return LadderParams(**base)  # type: ignore[arg-type]


def position(p: LadderParams, entry: float = 100.0, qty: str = "1.5") -> Position:
    """A fresh long position opened at T0."""
    q = Decimal(qty)
    lv = make_levels(entry, float(q), T0, p)
    return Position(
        "P1",
        "BTC/USDT",
        T0,
        Decimal(repr(entry)),
        q,
        q,
        q * Decimal(repr(entry)) * Decimal("0.001"),
        lv,
        steps_fired=(False,) * len(lv.steps),
        stop=lv.sl,
    )


def fill_all(pos: Position) -> Position:
    """Pretend every pending exit filled."""
    return replace(pos, qty=pos.qty - pos.pending_exit, pending_exit=Decimal(0))


def test_levels_are_fixed_prices_known_at_entry() -> None:
    """SL, break-even, TP1, TP2, AutoProfit and timeout threshold from the entry price."""
    lv = make_levels(100.0, 1.5, T0, params())
    assert lv.sl == pytest.approx(99.4)
    assert lv.breakeven == pytest.approx(100 * 1.001 / 0.999)
    assert lv.tp1 == pytest.approx(100.3)
    assert lv.tp2 == pytest.approx(100.6)
    assert lv.auto_profit == pytest.approx(100 * 1.031 / 0.999)
    assert lv.timeout_threshold == pytest.approx(100 * 1.011 / 0.999)
    assert lv.timeout_at == T0 + 60 * MIN and lv.max_hold_at == T0 + 120 * MIN


def test_stepwise_closes_20_20_30_30_percent_at_each_dollar_level() -> None:
    """Each step closes its share of the ORIGINAL qty when the original's net profit hits +$L."""
    p = params(tp1_pct=None, tp2_pct=5.0, auto_profit_pct=None)
    pos = position(p)
    closed = []
    for i, level in enumerate(pos.levels.steps):
        # the original position's profit, net of entry fee and estimated exit fee, is +$L
        profit = 1.5 * (level - 100.0) - 1.5 * 100.0 * 0.001 - 1.5 * level * 0.001
        assert profit == pytest.approx([0.10, 0.20, 0.30, 0.40][i])
        below, _ = evaluate(pos, level - 1e-9, T0 + MIN, None, p, STEP)
        assert below.pending_exit == 0
        pos, exits = evaluate(pos, level, T0 + MIN, None, p, STEP)
        assert [e.reason for e in exits] == [f"step_{i + 1}"]
        closed.append(exits[0].qty)
        pos = fill_all(pos)
    assert closed == [Decimal("0.300"), Decimal("0.300"), Decimal("0.450"), Decimal("0.450")]
    assert pos.qty == 0


def test_each_step_fires_once() -> None:
    """Crossing a level again never closes more."""
    p = params(tp1_pct=None, tp2_pct=5.0)
    pos = position(p)
    pos, exits = evaluate(pos, pos.levels.steps[0], T0, None, p, STEP)
    pos = fill_all(pos)
    pos2, exits2 = evaluate(pos, pos.levels.steps[0] + 0.001, T0, None, p, STEP)
    assert len(exits) == 1 and exits2 == []


def test_tp1_closes_half_and_moves_stop_to_breakeven() -> None:
    """TP1 closes tp1_share of the original and the stop moves to entry + round-trip fees."""
    p = params(step_levels_usdt=(), step_shares=())
    pos = position(p)
    pos, exits = evaluate(pos, 100.3, T0 + MIN, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("tp1", Decimal("0.750"))]
    assert pos.tp1_hit and pos.stop == pytest.approx(100 * 1.001 / 0.999) and pos.stop_is_breakeven
    pos = fill_all(pos)
    pos, exits = evaluate(pos, 100.19, T0 + 2 * MIN, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("sl_breakeven", Decimal("0.750"))]


def test_breakeven_can_be_disabled() -> None:
    """With breakeven_after_tp1 off the stop stays at the SL price."""
    p = params(step_levels_usdt=(), step_shares=(), breakeven_after_tp1=False)
    pos, _ = evaluate(position(p), 100.3, T0, None, p, STEP)
    assert pos.stop == pytest.approx(99.4) and not pos.stop_is_breakeven


def test_tp1_and_steps_on_one_price_close_each_quantity_once() -> None:
    """At a price past TP1 and step 1-2, TP1 then steps close, capped at what remains."""
    p = params()
    pos = position(p)
    pos, exits = evaluate(pos, 100.35, T0, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [
        ("tp1", Decimal("0.750")),
        ("step_1", Decimal("0.300")),
        ("step_2", Decimal("0.300")),
    ]
    pos = fill_all(pos)
    pos, exits = evaluate(pos, 100.45, T0, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("step_3", Decimal("0.150"))]
    assert fill_all(pos).qty == 0


def test_tp2_closes_the_rest() -> None:
    """TP2 closes everything left."""
    p = params(step_levels_usdt=(), step_shares=())
    pos, _ = evaluate(position(p), 100.3, T0, None, p, STEP)
    pos, exits = evaluate(fill_all(pos), 100.6, T0, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("tp2", Decimal("0.750"))]


def test_sl_closes_all_and_comes_first() -> None:
    """SL at entry x (1 - SL) closes everything, before any other rule."""
    p = params()
    pos = position(p)
    _, exits = evaluate(pos, 99.4, T0 + 200 * MIN, None, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("sl", Decimal("1.5"))]


def test_swept_levels_fill_at_the_level_and_jumps_at_the_price() -> None:
    """Inside a candle a stop fills at its level; a gap through it fills at the gap price."""
    p = params()
    _, exits = evaluate(position(p), 99.0, T0, 100.0, p, STEP)
    assert exits[0].ref_price == pytest.approx(99.4)
    _, exits = evaluate(position(p), 99.0, T0, None, p, STEP)
    assert exits[0].ref_price == 99.0


def test_auto_profit_only_before_tp1() -> None:
    """AutoProfit closes all at +3 % net when TP1 has not been hit; after TP1 it is off."""
    p = params(tp2_pct=10.0, step_levels_usdt=(), step_shares=())
    ap = position(p).levels.auto_profit
    assert ap is not None
    _, exits = evaluate(position(p), ap, T0, None, p, STEP)
    assert [e.reason for e in exits] == ["auto_profit"]
    pos, _ = evaluate(position(p), 100.3, T0, None, p, STEP)
    _, exits = evaluate(fill_all(pos), ap, T0, None, p, STEP)
    assert exits == []


def test_timeout_closes_the_swamp_but_keeps_growth() -> None:
    """After 60 min a position under +1 % closes; one at or above +1 % is kept."""
    p = params(tp2_pct=5.0, tp1_pct=4.0, step_levels_usdt=(), step_shares=())
    pos = position(p)
    thr = pos.levels.timeout_threshold
    _, exits = evaluate(pos, 100.5, T0 + 59 * MIN, None, p, STEP)
    assert exits == []
    _, exits = evaluate(pos, 100.5, T0 + 60 * MIN, None, p, STEP)
    assert [e.reason for e in exits] == ["timeout"]
    _, exits = evaluate(pos, thr, T0 + 60 * MIN, None, p, STEP)
    assert exits == []


def test_max_hold_closes_all() -> None:
    """At max_hold the position closes whatever its pnl."""
    p = params(tp2_pct=5.0, tp1_pct=4.0, step_levels_usdt=(), step_shares=())
    _, exits = evaluate(position(p), 102.0, T0 + 120 * MIN, None, p, STEP)
    assert [e.reason for e in exits] == ["max_hold"]


def test_triggers_bound_every_action() -> None:
    """Inside the trigger band, before the deadline, the ladder never acts."""
    p = params()
    pos = position(p)
    lower, upper, deadline = triggers(pos, T0)
    assert lower == pos.stop and upper == pytest.approx(pos.levels.steps[0])
    assert deadline == T0 + 60 * MIN
    _, exits = evaluate(pos, (lower + upper) / 2, deadline - 1, None, p, STEP)
    assert exits == []


# ---- sweeps: the levels a continuous move crosses, in the order it crosses them ------------
def decided(exits: list[ExitDecision]) -> list[tuple[str, Decimal, float]]:
    """(reason, qty, ref price) of each exit decision."""
    return [(e.reason, e.qty, e.ref_price) for e in exits]


def test_sweep_up_plays_steps_tp1_and_steps_and_leaves_nothing_for_tp2() -> None:
    """Issue 8's example: 100.0 -> 100.7 books step_1, tp1, step_2, step_3 at their levels."""
    p = params()
    pos = position(p)
    s1, s2, s3, _ = pos.levels.steps
    assert (round(s1, 3), round(s2, 3), round(s3, 3)) == (100.267, 100.334, 100.400)
    new, exits = evaluate_sweep(pos, 100.7, T0 + MIN, 100.0, p, STEP)
    assert decided(exits) == [
        ("step_1", Decimal("0.300"), s1),
        ("tp1", Decimal("0.750"), pytest.approx(100.3)),
        ("step_2", Decimal("0.300"), s2),
        ("step_3", Decimal("0.150"), s3),
    ]
    assert new.pending_exit == Decimal("1.5") and new.stop_is_breakeven
    # the old shortcut judged the sweep once at its end: TP2 closed everything
    _, once = evaluate(pos, 100.7, T0 + MIN, 100.0, p, STEP)
    assert decided(once) == [("tp2", Decimal("1.5"), pytest.approx(100.6))]


def test_a_jump_over_levels_fills_at_the_price_after_the_jump() -> None:
    """A gap at the open (no swept_from) is one price: TP2 closes all at the open price."""
    p = params()
    _, exits = evaluate_sweep(position(p), 100.7, T0 + MIN, None, p, STEP)
    assert decided(exits) == [("tp2", Decimal("1.5"), 100.7)]
    _, exits = evaluate_sweep(position(p), 99.0, T0 + MIN, None, p, STEP)
    assert decided(exits) == [("sl", Decimal("1.5"), 99.0)]


def test_sweep_down_hits_break_even_after_tp1_and_the_sl_otherwise() -> None:
    """After TP1 a fall closes the rest at break-even; a fresh position's fall at the SL."""
    p = params(step_levels_usdt=(), step_shares=())
    pos, exits = evaluate_sweep(position(p), 100.32, T0 + MIN, 100.0, p, STEP)
    assert decided(exits) == [("tp1", Decimal("0.750"), pytest.approx(100.3))]
    pos, exits = evaluate_sweep(fill_all(pos), 99.0, T0 + 2 * MIN, 100.32, p, STEP)
    assert decided(exits) == [("sl_breakeven", Decimal("0.750"), pytest.approx(100.2002002))]
    _, exits = evaluate_sweep(position(p), 99.0, T0 + 2 * MIN, 100.0, p, STEP)
    assert decided(exits) == [("sl", Decimal("1.5"), pytest.approx(99.4))]


def test_sweep_down_crosses_the_timeout_threshold_before_the_sl() -> None:
    """Past the timeout deadline, a fall closes at the timeout threshold, not at the SL."""
    p = params(
        tp1_pct=None,
        tp2_pct=5.0,
        step_levels_usdt=(),
        step_shares=(),
        auto_profit_pct=None,
        timeout_min_pnl_pct=0.1,
    )
    pos = position(p)
    thr = pos.levels.timeout_threshold
    assert thr == pytest.approx(100 * 1.002 / 0.999)
    pos, exits = evaluate_sweep(pos, 100.5, T0 + 61 * MIN, None, p, STEP)
    assert exits == []
    _, exits = evaluate_sweep(pos, 99.0, T0 + 62 * MIN, 100.5, p, STEP)
    assert decided(exits) == [("timeout", Decimal("1.5"), thr)]


def test_sweep_auto_profit_against_tp1_whichever_comes_first() -> None:
    """TP1 below AutoProfit: TP1 fires and AutoProfit is off; AutoProfit below TP1 closes all."""
    p = params(tp2_pct=10.0, step_levels_usdt=(), step_shares=(), auto_profit_pct=0.2)
    pos = position(p)
    ap = pos.levels.auto_profit
    assert ap == pytest.approx(100 * 1.003 / 0.999)  # 100.4004, above TP1 100.3
    _, exits = evaluate_sweep(pos, 100.5, T0 + MIN, 100.0, p, STEP)
    assert decided(exits) == [("tp1", Decimal("0.750"), pytest.approx(100.3))]
    p = replace(p, tp1_pct=0.5)  # TP1 100.5, above AutoProfit
    _, exits = evaluate_sweep(position(p), 100.6, T0 + MIN, 100.0, p, STEP)
    assert decided(exits) == [("auto_profit", Decimal("1.5"), ap)]


def test_a_deadline_reached_at_the_end_of_a_sweep_acts_after_its_crossings() -> None:
    """MaxHold at the sweep's end time: TP1 crossed inside the sweep fires first."""
    p = params(step_levels_usdt=(), step_shares=(), timeout_min=None)
    _, exits = evaluate_sweep(position(p), 100.35, T0 + 120 * MIN, 100.0, p, STEP)
    assert decided(exits) == [
        ("tp1", Decimal("0.750"), pytest.approx(100.3)),
        ("max_hold", Decimal("0.750"), 100.35),
    ]


# ---- break-even stop: selling there nets zero after both fees, rounded up to the tick ------
def test_breakeven_nets_zero_after_both_fees_and_rounds_up_to_the_tick() -> None:
    """entry x (1 + fee) / (1 - fee), then up to the tick: 100 -> 100.2002 -> 100.21."""
    p = params()
    assert breakeven_price(100.0, p) == pytest.approx(100.2002002)
    assert breakeven_price(100.0, p, Decimal("0.01")) == 100.21
    assert make_levels(100.0, 1.5, T0, p, Decimal("0.01")).breakeven == 100.21
    # issue 11's ADA case: entry 0.8019, tick 0.0001
    be = breakeven_price(0.8019, p, Decimal("0.0001"))
    assert be == 0.8036
    net = (be - 0.8019) - 0.8019 * 0.001 - be * 0.001  # per unit
    old = 0.8019 * 1.002  # the old formula, rounded to the nearest tick: a small loss
    assert net >= 0 and round(old, 4) - 0.8019 - 0.8019 * 0.001 - round(old, 4) * 0.001 < 0
    # a price already on the tick is never moved
    assert breakeven_price(100.0, params(fee_in=0.0, fee_out=0.0), Decimal("0.01")) == 100.0
