"""Figures drawn from finished studies: verdict, parameter stability and importance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna

from optiflow.optimize.driver import OptimizeResult, StageResult
from optiflow.optimize.space import Param

NO_EDGE = "no setting in this space beats the fees out of sample"


def verdict(result: OptimizeResult) -> list[str]:
    """The lines that sum up the run, the out-of-sample one first when there are folds."""
    folds = [s for s in result.stages if s.fold is not None]
    if folds:
        tested = [s for s in folds if s.out_sample is not None]
        if not tested:
            return [NO_EDGE + " (no fold found a setting meeting the trade and drawdown rules)"]
        net = sum(s.out_sample.net_pnl for s in tested if s.out_sample is not None)
        days = sum(s.out_sample.days for s in tested if s.out_sample is not None)
        wins = sum(1 for s in tested if s.out_sample is not None and s.out_sample.net_pnl > 0)
        head = (
            f"out of sample: {net / max(days, 1e-9):+.2f} $/day over {days:.1f} days "
            f"({wins} of {len(folds)} folds profitable after fees)"
        )
        lines = [head]
        if net <= 0 or len(tested) < len(folds):
            lines.append(NO_EDGE)
        else:
            lines.append("the walk-forward settings beat the fees out of sample")
        return lines
    st = result.stages[0] if result.stages else None
    if st is None or st.in_sample is None:
        return ["no setting in this space meets the trade minimum and drawdown limit"]
    line = f"in sample only: best {st.in_sample.net_per_day:+.2f} $/day"
    if st.in_sample.net_pnl <= 0:
        return [line, "no setting in this space beats the fees, even in sample"]
    return [line, "not yet proof: run with --walk-forward K to test it on unseen data"]


def stability(result: OptimizeResult, space: Sequence[Param]) -> list[tuple[str, str, str]]:
    """Per parameter: its best value per fold and how much it moves (share of its range)."""
    folds = [s for s in result.stages if s.best_params is not None]
    rows = []
    for p in space:
        vals = [s.best_params.get(p.key) for s in folds if s.best_params is not None]
        if not vals:
            continue
        if p.kind == "categorical":
            spread = f"{len(set(map(str, vals)))} distinct"
        else:
            nums = [float(v) for v in vals if v is not None]
            span = math.log(p.high / p.low) if p.log else p.high - p.low
            moved = (
                math.log(max(nums) / min(nums))
                if p.log and min(nums) > 0
                else max(nums) - min(nums)
            )
            spread = f"{100 * moved / span:.0f} % of range" if span > 0 else "-"
        rows.append((p.key, ", ".join(_fmt(v) for v in vals), spread))
    return rows


def _fmt(v: Any) -> str:
    """A parameter value, short."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _ranks(xs: Sequence[float]) -> list[float]:
    """Average ranks (ties share their mean rank)."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def _corr(a: Sequence[float], b: Sequence[float]) -> float:
    """Pearson correlation (0 when either side is flat)."""
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return 0.0 if va <= 0 or vb <= 0 else cov / math.sqrt(va * vb)


def importance(stage: StageResult, space: Sequence[Param]) -> list[tuple[str, float]]:
    """How strongly each parameter goes with the score over the study's feasible trials.

    Numeric parameters: |Spearman rank correlation|; categorical ones: the correlation ratio.
    Both lie in [0, 1]; sorted, strongest first.
    """
    trials = [
        t
        for t in stage.trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs.get("feasible")
    ]
    if len(trials) < 3:
        return []
    values = [float(t.value or 0.0) for t in trials]
    out = []
    for p in space:
        xs = [t.params.get(p.key) for t in trials]
        if any(x is None for x in xs):
            continue
        if p.kind == "categorical":
            groups: dict[str, list[float]] = {}
            for x, v in zip(xs, values, strict=True):
                groups.setdefault(str(x), []).append(v)
            mean = sum(values) / len(values)
            total = sum((v - mean) ** 2 for v in values)
            between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
            out.append((p.key, math.sqrt(between / total) if total > 0 else 0.0))
        else:
            nums = [float(x) for x in xs if x is not None]
            out.append((p.key, abs(_corr(_ranks(nums), _ranks(values)))))
    return sorted(out, key=lambda kv: -kv[1])
