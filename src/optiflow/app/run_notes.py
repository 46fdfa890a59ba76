"""Plain-words notes on a run a trader must not miss: ruin, what PnL/day averages, warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from optiflow.domain.results import BotRun, NearMiss

MS_PER_DAY = 86_400_000


def _day(ms: int) -> str:
    """A ms timestamp as its UTC date, e.g. 2023-04-24."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def ruin_ts(run: BotRun) -> int | None:
    """When the balance fell below the minimum order for good (None: never, or no floor)."""
    floor_raw = run.extra.get("min_order_usdt")
    if floor_raw is None:
        return None
    floor = Decimal(str(floor_raw))
    if run.final_balance >= floor:
        return None
    return _first_below_for_good(run, floor)


def _first_below_for_good(run: BotRun, floor: Decimal) -> int:
    """The first equity point after the last one at or above the floor."""
    curve = run.equity_curve
    for i in range(len(curve) - 1, -1, -1):
        if curve[i][1] >= floor:
            return curve[i + 1][0] if i + 1 < len(curve) else run.ts_end
    return curve[0][0] if curve else run.ts_start


def run_notes(run: BotRun, days: Decimal) -> tuple[str, ...]:
    """The notes of one run, most important first."""
    notes: list[str] = []
    ruined = ruin_ts(run)
    if ruined is not None:
        notes.append(
            f"RUINED: balance fell below the minimum order (with fees: "
            f"{run.extra['min_order_usdt']} USDT) on {_day(ruined)}; no trade after that"
        )
    active = {_day(row.ts_exit) for row in run.exits}
    idle = f"; the {_days(run.ts_end - ruined)} after the ruin count as idle" if ruined else ""
    notes.append(
        f"PnL/day is the net PnL over {days:.2f} days, {_day(run.ts_start)} to "
        f"{_day(max(run.ts_start, run.ts_end - 1))}, idle days included: {len(active)} "
        f"day(s) had exits{idle}"
    )
    warnings = run.extra.get("warnings")
    if isinstance(warnings, list):
        notes.extend(f"WARNING: {w}" for w in warnings)
    return tuple(notes)


def _days(ms: int) -> str:
    """A duration in ms as days with one decimal."""
    return f"{ms / MS_PER_DAY:.1f} days"


def latest_per_kind(near: tuple[NearMiss, ...], n: int) -> tuple[NearMiss, ...]:
    """The latest ``n`` near misses of each kind (filter, one_group), newest first."""
    newest = sorted(near, key=lambda nm: nm.ts, reverse=True)
    kinds = sorted({nm.kind for nm in near})
    picked = [nm for kind in kinds for nm in [m for m in newest if m.kind == kind][:n]]
    return tuple(sorted(picked, key=lambda nm: nm.ts, reverse=True))
