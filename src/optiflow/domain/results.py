"""What a finished backtest hands to reports: closed trade rows, equity points, counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

EXIT_REASONS: tuple[str, ...] = (
    "sl",
    "sl_breakeven",
    "max_hold",
    "auto_profit",
    "tp2",
    "tp1",
    "step_1",
    "step_2",
    "step_3",
    "step_4",
    "timeout",
    "manual",
    "shutdown",
    "end_of_data",
)

FILTER_REASONS: tuple[str, ...] = (
    "spread",
    "notional",
    "volume",
    "atr",
    "cooldown",
    "rate",
    "blacklist",
    "capacity",
    "balance",
)


@dataclass(frozen=True, slots=True)
class ExitRow:
    """One exit fill: a whole or partial close of a position, net of both sides' fees."""

    bot: str
    symbol: str
    position_id: str
    ts_entry: int  # ms, UTC
    ts_exit: int  # ms, UTC
    entry_price: Decimal
    exit_price: Decimal
    qty: Decimal
    fees: Decimal  # entry fee share of this qty + exit fee
    net_pnl: Decimal  # (exit - entry) * qty - fees, in quote currency
    reason: str  # one of EXIT_REASONS
    signals: str = ""  # the signal combination that opened the position ("p1+c1")


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A candle that almost produced an entry, with the values that decided it."""

    ts: int
    symbol: str
    kind: str  # "filter": both groups passed and one filter blocked
    reason: str  # the blocking filter's reason code
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class SymbolStats:
    """Per-symbol signal and filter counters."""

    candles: int = 0
    primary: int = 0
    confirming: int = 0
    passes_1plus1: int = 0
    entries: int = 0
    near_miss_one_group: int = 0
    near_miss_filter: int = 0
    rejections: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DailyTarget:
    """The user's $/day target range for a bot (shown against the measured figure)."""

    daily_usd_min: Decimal
    daily_usd_max: Decimal


@dataclass(frozen=True, slots=True)
class BotRun:
    """Everything one bot's backtest produced."""

    bot: str
    symbols: tuple[str, ...]
    ts_start: int
    ts_end: int
    starting_balance: Decimal
    final_balance: Decimal
    exits: tuple[ExitRow, ...]
    positions_opened: int
    equity_curve: tuple[tuple[int, Decimal], ...]  # (ts ms, equity after each exit)
    stats: tuple[tuple[str, SymbolStats], ...]
    near_misses: tuple[NearMiss, ...]  # the latest ones, bounded
    target: DailyTarget | None
    candles_processed: int = 0
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """One finished shadow: the blocked signal and what it would have made."""

    symbol: str
    ts_signal: int  # the signal candle's close (the shadow's entry time)
    ts_exit: int  # its last exit
    reasons: tuple[str, ...]  # the filters that blocked it
    entry_price: Decimal
    qty: Decimal
    net_pnl: Decimal  # every exit, net of fees and slippage
    exit_reason: str  # the reason of the exit that ended it
    exits: tuple[tuple[str, Decimal, Decimal], ...] = ()  # (reason, qty, price) in order
