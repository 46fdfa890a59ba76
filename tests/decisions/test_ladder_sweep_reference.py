"""``evaluate_sweep`` equals a plain reference sweep (every crossing evaluated, no shortcut)."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from decimal import Decimal

from optiflow.decisions.ladder import (
    ExitDecision,
    LadderParams,
    evaluate,
    evaluate_sweep,
    triggers,
)
from optiflow.portfolio.position import Position
from tests.decisions.test_ladder import MIN, STEP, T0, params, position


def reference_sweep(
    pos: Position, price: float, now: int, swept_from: float | None, p: LadderParams
) -> tuple[Position, list[ExitDecision]]:
    """The sweep as the docstring states it: each crossed level judged by ``evaluate`` until
    nothing changes, then the end price; no early return once everything is pending."""
    if swept_from is None or swept_from == price:
        return evaluate(pos, price, now, swept_from, p, STEP)
    up = price > swept_from
    lv = pos.levels
    inside = now - 1 if lv.max_hold_at is None else min(now - 1, lv.max_hold_at - 1)
    exits: list[ExitDecision] = []
    cur = swept_from
    while True:
        lower, upper, _ = triggers(pos, inside)
        if up and cur < upper < price:
            at = upper
        elif not up and price < lower < cur:
            at = math.nextafter(lower, -math.inf)
            if at <= price:
                break
        else:
            break
        new, got = evaluate(pos, at, inside, cur, p, STEP)
        if new is pos:
            break
        pos, cur = new, at
        if not up:
            got = [replace(d, ref_price=lower) if d.reason == "timeout" else d for d in got]
        exits += got
    pos, got = evaluate(pos, price, now, cur, p, STEP)
    return pos, exits + got


def test_sweeps_equal_the_reference_on_random_paths() -> None:
    """Random ladders, positions part-closed or not and random sweeps both ways (through the
    SL, TP1, the steps, TP2, timeouts): the same exits and the same position, every time."""
    rng = random.Random(11)
    closes_all = 0
    for _ in range(3000):
        p = params(
            breakeven_after_tp1=rng.random() < 0.7,
            timeout_min=rng.choice([None, 1.0, 60.0]),
            max_hold_min=rng.choice([None, 2.0, 120.0]),
            auto_profit_pct=rng.choice([None, 0.5, 3.0]),
        )
        pos = position(p, qty=rng.choice(["1.5", "0.004", "2.25"]))
        if rng.random() < 0.3:
            pos = replace(pos, pending_exit=pos.qty / 2)
        now = T0 + rng.randint(1, 150) * MIN
        start = rng.uniform(98.5, 101.5)
        end = rng.uniform(98.0, 102.0)
        got = evaluate_sweep(pos, end, now, start, p, STEP)
        want = reference_sweep(pos, end, now, start, p)
        assert got == want
        closes_all += got[0].pending_exit >= got[0].qty and len(got[1]) > 0
    assert closes_all > 300  # the shortcut's case (all of it pending) is well covered


def test_a_fall_through_the_stop_closes_once_at_the_level() -> None:
    """A fall through the SL closes everything once, at the SL: nothing after it."""
    p = params()
    pos = position(p)
    new, exits = evaluate_sweep(pos, 98.0, T0 + MIN, 100.0, p, STEP)
    assert [(e.reason, e.qty) for e in exits] == [("sl", Decimal("1.5"))]
    assert new.pending_exit == new.qty
