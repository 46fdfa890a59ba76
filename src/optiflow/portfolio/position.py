"""An open position, its exit levels, and the money math of closing part of it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from optiflow.domain.records import builder


@dataclass(frozen=True, slots=True)
class Levels:
    """Every exit trigger of a position, fixed at entry: prices (floats) and deadlines (ms)."""

    sl: float
    breakeven: float
    tp1: float | None
    tp2: float
    steps: tuple[float, ...]
    auto_profit: float | None
    timeout_threshold: float  # price below which pnl < timeout_min_pnl_pct
    timeout_at: int | None
    max_hold_at: int | None


@dataclass(frozen=True, slots=True)
class Position:
    """A long position: what was bought, what is still open, which exits already fired."""

    position_id: str
    symbol: str
    ts_entry: int
    entry_price: Decimal
    qty0: Decimal  # original quantity
    qty: Decimal  # still open (filled exits removed)
    entry_fee: Decimal
    levels: Levels
    pending_exit: Decimal = Decimal(0)  # in exit orders not filled yet
    tp1_hit: bool = False
    steps_fired: tuple[bool, ...] = ()
    stop: float = 0.0
    stop_is_breakeven: bool = False
    signals: str = ""  # the signal combination that opened it ("p1+c1"; "" when adopted)

    @property
    def closable(self) -> Decimal:
        """Quantity not yet covered by an exit order."""
        return self.qty - self.pending_exit


def evolve(
    pos: Position,
    *,
    qty: Decimal | None = None,
    pending_exit: Decimal | None = None,
    tp1_hit: bool | None = None,
    steps_fired: tuple[bool, ...] | None = None,
    stop: float | None = None,
    stop_is_breakeven: bool | None = None,
) -> Position:
    """``dataclasses.replace`` of the fields an exit changes, without its per-call field
    introspection (the ladder and the shadow book call it for every exit)."""
    return build_position(
        pos.position_id,
        pos.symbol,
        pos.ts_entry,
        pos.entry_price,
        pos.qty0,
        pos.qty if qty is None else qty,
        pos.entry_fee,
        pos.levels,
        pos.pending_exit if pending_exit is None else pending_exit,
        pos.tp1_hit if tp1_hit is None else tp1_hit,
        pos.steps_fired if steps_fired is None else steps_fired,
        pos.stop if stop is None else stop,
        pos.stop_is_breakeven if stop_is_breakeven is None else stop_is_breakeven,
        pos.signals,
    )


build_position = builder(Position)  # every field, in order: Position(...) at half the cost


def round_step(qty: Decimal, step: Decimal) -> Decimal:
    """Round a quantity down to the exchange's lot step."""
    if step <= 0:
        return qty
    units = (qty / step).to_integral_value(rounding=ROUND_DOWN)
    return (units * step).quantize(step)  # keep the step's exponent: 400.0, never 4E+2


def exit_fee_share(pos: Position, qty: Decimal) -> Decimal:
    """The part of the entry fee that belongs to ``qty`` of the position."""
    if pos.qty0 == 0:
        return Decimal(0)
    return pos.entry_fee * qty / pos.qty0


def net_pnl(entry: Decimal, exit_: Decimal, qty: Decimal, fees: Decimal) -> Decimal:
    """Realised PnL of a long close, net of the fees attributed to it."""
    return (exit_ - entry) * qty - fees
