"""The exit ladder of SPEC §6: pure functions of (position, price, now).

Order on every price event: SL, MaxHold, AutoProfit, TP2, TP1, stepwise, timeout; a
close-all ends the evaluation; a quantity is never closed twice (pending exits count).
A sweep (a continuous move) is played as the ordered sequence of the levels it crosses,
each judged at its own price (``evaluate_sweep``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from optiflow.domain.records import builder
from optiflow.portfolio.position import Levels, Position, build_position, evolve, round_step

MS_PER_MIN = 60_000
_levels = builder(Levels)
INF = float("inf")


@dataclass(frozen=True, slots=True)
class LadderParams:
    """The exit settings of one bot (percent values as in the config)."""

    sl_pct: float
    tp1_pct: float | None
    tp2_pct: float
    tp1_share: Decimal
    breakeven_after_tp1: bool
    step_levels_usdt: tuple[Decimal, ...]
    step_shares: tuple[Decimal, ...]
    auto_profit_pct: float | None
    timeout_min: float | None
    timeout_min_pnl_pct: float
    max_hold_min: float | None
    fee_in: float  # taker fee rate of the entry, e.g. 0.001
    fee_out: float  # estimated exit fee rate


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """Close ``qty`` for ``reason``; ``ref_price`` is where it should execute."""

    reason: str
    qty: Decimal
    ref_price: float


_decision = builder(ExitDecision)  # ExitDecision(reason, qty, ref_price) at half the cost


def price_for_net_pct(entry: float, pct: float, p: LadderParams) -> float:
    """The price at which a long's pnl, net of entry and exit fees, is ``pct`` % of entry."""
    return entry * (1.0 + p.fee_in + pct / 100.0) / (1.0 - p.fee_out)


def breakeven_price(entry: float, p: LadderParams, price_tick: Decimal = Decimal(0)) -> float:
    """The price at which selling nets zero after both fees, rounded up to the price tick.

    entry x (1 + entry fee) / (1 - exit fee); never rounded down, so a break-even stop
    filled at its level never loses.
    """
    price = entry * (1.0 + p.fee_in) / (1.0 - p.fee_out)
    if price_tick <= 0:
        return price
    ticks = (Decimal(repr(price)) / price_tick).to_integral_value(rounding=ROUND_CEILING)
    return float(ticks * price_tick)


def make_levels(
    entry: float, qty0: float, ts_entry: int, p: LadderParams, price_tick: Decimal = Decimal(0)
) -> Levels:
    """Compute every trigger of a new position from its fill (``price_tick``: the symbol's)."""
    steps = (
        tuple(
            (float(level) / qty0 + entry * (1.0 + p.fee_in)) / (1.0 - p.fee_out)
            for level in p.step_levels_usdt
        )
        if qty0 > 0
        else ()
    )
    return _levels(  # Levels(...), every field in order (domain/records.py)
        entry * (1.0 - p.sl_pct / 100.0),  # sl
        breakeven_price(entry, p, price_tick),  # breakeven
        None if p.tp1_pct is None else entry * (1.0 + p.tp1_pct / 100.0),  # tp1
        entry * (1.0 + p.tp2_pct / 100.0),  # tp2
        steps,
        None  # auto_profit
        if p.auto_profit_pct is None
        else price_for_net_pct(entry, p.auto_profit_pct, p),
        price_for_net_pct(entry, p.timeout_min_pnl_pct, p),  # timeout_threshold
        None if p.timeout_min is None else ts_entry + int(p.timeout_min * MS_PER_MIN),
        None if p.max_hold_min is None else ts_entry + int(p.max_hold_min * MS_PER_MIN),
    )


def _up(level: float, price: float, swept_from: float | None) -> float:
    """Fill reference for a target reached at ``price``: the level if swept through it."""
    if swept_from is not None and swept_from < level <= price:
        return level
    return price


def _down(level: float, price: float, swept_from: float | None) -> float:
    """Fill reference for a stop reached at ``price``: the level if swept through it."""
    if swept_from is not None and swept_from > level >= price:
        return level
    return price


def evaluate(
    pos: Position,
    price: float,
    now: int,
    swept_from: float | None,
    p: LadderParams,
    amount_step: Decimal,
) -> tuple[Position, list[ExitDecision]]:
    """Decide the exits for one price event; returns the updated position and the exits."""
    # only whole lot steps can be sold (a fee taken in the base asset can leave dust)
    rest = round_step(pos.closable, amount_step)
    if rest <= 0:
        return pos, []
    lv = pos.levels
    if price <= pos.stop:
        reason = "sl_breakeven" if pos.stop_is_breakeven else "sl"
        return _close_all(pos, reason, rest, _down(pos.stop, price, swept_from))
    if lv.max_hold_at is not None and now >= lv.max_hold_at:
        return _close_all(pos, "max_hold", rest, price)
    if lv.auto_profit is not None and not pos.tp1_hit and price >= lv.auto_profit:
        return _close_all(pos, "auto_profit", rest, _up(lv.auto_profit, price, swept_from))
    if price >= lv.tp2:
        return _close_all(pos, "tp2", rest, _up(lv.tp2, price, swept_from))
    exits: list[ExitDecision] = []
    # what changes, built into one new position at the end (the same fields as one evolve
    # per change would give)
    changed, tp1_hit, stop, at_breakeven = False, pos.tp1_hit, pos.stop, pos.stop_is_breakeven
    steps_fired = pos.steps_fired
    step_due = False  # a step not fired yet at or below the price (a loop, no generator)
    if lv.steps:
        for done, level in zip(steps_fired, lv.steps, strict=True):
            if not done and price >= level:
                step_due = True
                break
    if lv.tp1 is not None and not tp1_hit and price >= lv.tp1:
        qty = min(rest, round_step(pos.qty0 * p.tp1_share, amount_step))
        if qty > 0:
            exits.append(_decision("tp1", qty, _up(lv.tp1, price, swept_from)))
            rest -= qty
        changed = tp1_hit = True
        if p.breakeven_after_tp1 and lv.breakeven > stop:
            stop, at_breakeven = lv.breakeven, True
    if step_due and rest > 0:
        fired = list(steps_fired)
        for i, level in enumerate(lv.steps):
            if fired[i] or price < level:
                continue
            fired[i] = True
            qty = (
                rest
                if i == len(lv.steps) - 1
                else min(rest, round_step(pos.qty0 * p.step_shares[i], amount_step))
            )
            if qty > 0:
                exits.append(_decision(f"step_{i + 1}", qty, _up(level, price, swept_from)))
                rest -= qty
            if rest <= 0:
                break
        changed, steps_fired = True, tuple(fired)
    if (
        rest > 0
        and lv.timeout_at is not None
        and now >= lv.timeout_at
        and price < lv.timeout_threshold
    ):
        exits.append(_decision("timeout", rest, price))
        rest = Decimal(0)
    if not exits and not changed:
        return pos, []
    return build_position(  # evolve(pos, pending_exit=..., tp1_hit=..., ...), every field
        pos.position_id,
        pos.symbol,
        pos.ts_entry,
        pos.entry_price,
        pos.qty0,
        pos.qty,
        pos.entry_fee,
        lv,  # levels
        pos.qty - rest if exits else pos.pending_exit,  # pending_exit
        tp1_hit,
        steps_fired,
        stop,
        at_breakeven,  # stop_is_breakeven
        pos.signals,
    ), exits


def evaluate_sweep(
    pos: Position,
    price: float,
    now: int,
    swept_from: float | None,
    p: LadderParams,
    amount_step: Decimal,
) -> tuple[Position, list[ExitDecision]]:
    """Decide the exits for the price moving to ``price`` (continuously from ``swept_from``).

    A sweep is played as the levels it crosses, in the order it crosses them, each judged
    by ``evaluate`` at its own price (so TP1 and the steps below TP2 fire before TP2, and a
    break-even stop above the SL fires first); the end price is judged last, at ``now``.
    The crossings happen before the sweep's end: a deadline reached inside the sweep acts
    at its end price. A jump (no ``swept_from``) is judged once, at ``price``.
    """
    if swept_from is None or swept_from == price:
        return evaluate(pos, price, now, swept_from, p, amount_step)
    up = price > swept_from
    lv = pos.levels
    # the clock of the crossings: just before the end, and never at a MaxHold deadline
    inside = now - 1 if lv.max_hold_at is None else min(now - 1, lv.max_hold_at - 1)
    exits: list[ExitDecision] = []
    cur = swept_from
    while True:
        lower, upper, _ = triggers(pos, inside)
        if up and cur < upper < price:
            at = upper  # every upward rule fires at its level (>=)
        elif not up and price < lower < cur:
            at = math.nextafter(lower, -INF)  # just under: the stop (<=) and timeout (<)
            if at <= price:
                break
        else:
            break
        new, got = evaluate(pos, at, inside, cur, p, amount_step)
        if new is pos:
            break  # nothing left to close
        pos, cur = new, at
        if not up:  # a timeout fired by falling through its threshold fills at it
            got = [replace(d, ref_price=lower) if d.reason == "timeout" else d for d in got]
        exits += got
        if pos.qty <= pos.pending_exit:  # all of it in exit orders: every later evaluate
            return pos, exits  # returns the position unchanged and no exit (see its start)
    pos, got = evaluate(pos, price, now, cur, p, amount_step)
    return pos, exits + got


def _close_all(
    pos: Position, reason: str, qty: Decimal, ref: float
) -> tuple[Position, list[ExitDecision]]:
    return evolve(pos, pending_exit=pos.pending_exit + qty), [_decision(reason, qty, ref)]


def triggers(pos: Position, now: int) -> tuple[float, float, int | None]:
    """(lower price, upper price, next deadline) beyond which ``evaluate`` may act.

    A superset of the real conditions, so a feed that skips quiet candles never skips
    a candle on which the ladder would have acted.
    """
    lv = pos.levels
    lower = pos.stop
    upper = lv.tp2
    if lv.auto_profit is not None and not pos.tp1_hit:
        upper = min(upper, lv.auto_profit)
    if lv.tp1 is not None and not pos.tp1_hit:
        upper = min(upper, lv.tp1)
    for i, level in enumerate(lv.steps):
        if not pos.steps_fired[i]:
            upper = min(upper, level)
            break
    deadline: int | None = lv.max_hold_at
    if lv.timeout_at is not None:
        if now >= lv.timeout_at:
            lower = max(lower, lv.timeout_threshold)
        elif deadline is None or lv.timeout_at < deadline:
            deadline = lv.timeout_at
    return lower, upper, deadline
