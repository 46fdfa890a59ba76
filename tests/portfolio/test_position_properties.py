"""Property tests: the ladder never closes a quantity twice; PnL books add up exactly."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from optiflow.decisions.ladder import LadderParams, evaluate, make_levels
from optiflow.portfolio.position import Position, exit_fee_share, net_pnl, round_step

MIN = 60_000
PARAMS = LadderParams(
    sl_pct=0.6,
    tp1_pct=0.3,
    tp2_pct=0.6,
    tp1_share=Decimal("0.5"),
    breakeven_after_tp1=True,
    step_levels_usdt=(Decimal("0.1"), Decimal("0.2"), Decimal("0.3"), Decimal("0.4")),
    step_shares=(Decimal("0.2"), Decimal("0.2"), Decimal("0.3"), Decimal("0.3")),
    auto_profit_pct=3.0,
    timeout_min=60,
    timeout_min_pnl_pct=1.0,
    max_hold_min=120,
    fee_in=0.001,
    fee_out=0.001,
)

moves = st.lists(
    st.floats(min_value=-0.01, max_value=0.01, allow_nan=False), min_size=1, max_size=200
)


@settings(max_examples=300, deadline=None)
@given(
    entry=st.floats(min_value=0.01, max_value=100_000, allow_nan=False),
    qty_steps=st.integers(min_value=1, max_value=10_000),
    path=moves,
    sweep=st.booleans(),
)
def test_exits_never_exceed_the_position(
    entry: float, qty_steps: int, path: list[float], sweep: bool
) -> None:
    """Whatever the price path, closed quantities sum to at most the original, each rung once."""
    step = Decimal("0.001")
    qty = qty_steps * step
    lv = make_levels(entry, float(qty), 0, PARAMS)
    pos = Position(
        "P",
        "X/USDT",
        0,
        Decimal(repr(entry)),
        qty,
        qty,
        Decimal(0),
        lv,
        steps_fired=(False,) * len(lv.steps),
        stop=lv.sl,
    )
    price, closed, reasons = entry, Decimal(0), []
    for i, move in enumerate(path):
        prev, price = price, price * (1 + move)
        pos, exits = evaluate(pos, price, (i + 1) * MIN, prev if sweep else None, PARAMS, step)
        for e in exits:
            assert e.qty > 0
            closed += e.qty
            reasons.append(e.reason)
        pos = replace(pos, qty=pos.qty - pos.pending_exit, pending_exit=Decimal(0))
        assert pos.qty >= 0
        if pos.qty == 0:
            break
    assert closed + pos.qty == qty
    assert len(reasons) == len(set(reasons))


@settings(max_examples=300, deadline=None)
@given(
    entry=st.decimals(min_value="0.0001", max_value="100000", places=4),
    exit_=st.decimals(min_value="0.0001", max_value="100000", places=4),
    parts=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
    fee_rate=st.decimals(min_value="0", max_value="0.01", places=5),
)
def test_partial_closes_book_exactly_the_whole_trade(
    entry: Decimal, exit_: Decimal, parts: list[int], fee_rate: Decimal
) -> None:
    """Summed over partial exits, net PnL equals the whole round trip minus all fees, exactly."""
    qty0 = Decimal(sum(parts)) * Decimal("0.001")
    entry_fee = qty0 * entry * fee_rate
    pos = Position(
        "P",
        "X/USDT",
        0,
        entry,
        qty0,
        qty0,
        entry_fee,
        make_levels(float(entry), float(qty0), 0, PARAMS),
    )
    total, fees = Decimal(0), Decimal(0)
    for part in parts:
        q = Decimal(part) * Decimal("0.001")
        exit_fee = q * exit_ * fee_rate
        f = exit_fee_share(pos, q) + exit_fee
        total += net_pnl(entry, exit_, q, f)
        fees += exit_fee
    expected = (exit_ - entry) * qty0 - entry_fee - fees
    assert abs(total - expected) <= Decimal("1e-20")


@given(
    qty=st.decimals(min_value="0", max_value="1000000", places=8),
    step=st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.001"), Decimal("0.00001")]),
)
def test_round_step_never_rounds_up(qty: Decimal, step: Decimal) -> None:
    """Rounding to the lot step never exceeds the wanted quantity and loses less than a step."""
    r = round_step(qty, step)
    assert r <= qty < r + step and (r / step) == (r / step).to_integral_value()
