"""The score of one backtest: net of fees and slippage, with a trade minimum and a drawdown cap."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from optiflow.app.summary import BotSummary

OBJECTIVES = ("net_per_day", "sharpe", "net_over_drawdown")
INFEASIBLE = -1_000_000.0  # the value of a trial that breaks the trade minimum or drawdown cap


@dataclass(frozen=True, slots=True)
class Rules:
    """What a study maximises and what a setting must meet to count at all."""

    objective: str = "net_per_day"
    min_trades: int = 20
    max_drawdown_pct: float = 25.0


@dataclass(frozen=True, slots=True)
class Score:
    """One backtest's figures (all net of fees and slippage) and its objective value."""

    value: float
    feasible: bool
    why: str  # "" when feasible, else which rule it breaks
    net_per_day: float
    net_pnl: float
    trades: int
    win_rate_pct: float
    max_drawdown_pct: float
    sharpe: float
    days: float

    def attrs(self) -> dict[str, float | int | str | bool]:
        """The figures as Optuna user attributes."""
        return asdict(self)


def _sharpe(daily: list[float]) -> float:
    """Annualised Sharpe of daily net PnL (0 when it cannot be measured)."""
    if len(daily) < 2:
        return 0.0
    mean = sum(daily) / len(daily)
    var = sum((x - mean) ** 2 for x in daily) / (len(daily) - 1)
    return 0.0 if var <= 0 else mean / math.sqrt(var) * math.sqrt(365.0)


def score(summary: BotSummary, rules: Rules) -> Score:
    """The objective of one run, or ``INFEASIBLE`` with the reason when a rule is broken."""
    trades = summary.trades.positions_closed
    net_day = float(summary.pnl_per_day)
    dd = float(summary.max_drawdown_pct)
    sharpe = _sharpe([float(v) for _, v in summary.daily_pnl])
    if rules.objective == "sharpe":
        value = sharpe
    elif rules.objective == "net_over_drawdown":
        dd_usd = float(summary.max_drawdown_usd)
        value = float(summary.trades.net_pnl) / max(dd_usd, 1.0)
    else:
        value = net_day
    why = ""
    if trades < rules.min_trades:
        why = f"{trades} trades < minimum {rules.min_trades}"
    elif dd > rules.max_drawdown_pct:
        why = f"drawdown {dd:.1f} % > limit {rules.max_drawdown_pct:g} %"
    win = summary.trades.win_rate_pct
    return Score(
        value=value if not why else INFEASIBLE,
        feasible=not why,
        why=why,
        net_per_day=net_day,
        net_pnl=float(summary.trades.net_pnl),
        trades=trades,
        win_rate_pct=float(win) if win is not None else 0.0,
        max_drawdown_pct=dd,
        sharpe=sharpe,
        days=float(summary.days),
    )
