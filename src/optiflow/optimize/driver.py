"""The optimize run: one study on the whole period, or one per walk-forward fold plus its test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import optuna

from optiflow.config.models import BotConfig
from optiflow.marketdata.loaders import CandleArrays
from optiflow.optimize.folds import Fold, data_span, plan_folds
from optiflow.optimize.scoring import Rules, Score
from optiflow.optimize.space import Space, apply_params
from optiflow.optimize.study import RunOutcome, check_storage, open_study, run_workers
from optiflow.optimize.worker import Evaluator, Job

TOP = 8  # best trials per fold also tested out of sample (the scatter)
ProgressFactory = Callable[[str], Callable[[int, int, float | None], None]]


@dataclass(frozen=True, slots=True)
class Request:
    """Everything one ``optiflow optimize`` asks for."""

    base: BotConfig
    space: Space
    rules: Rules
    trials: int
    jobs: int
    walk_forward: int  # 0: one study on the whole period
    storage_url: str
    study: str
    seed: int | None = None
    prune: bool = True


@dataclass(slots=True)
class StageResult:
    """One study (the whole period or one fold's past) and, for a fold, its unseen test."""

    label: str
    job: Job
    fold: Fold | None
    outcome: RunOutcome
    trials: list[optuna.trial.FrozenTrial] = field(default_factory=list)
    best_params: dict[str, Any] | None = None
    best_value: float | None = None
    in_sample: Score | None = None
    out_sample: Score | None = None
    oos_curve: tuple[tuple[int, Decimal], ...] = ()
    top: list[tuple[int, float, float]] = field(default_factory=list)  # trial, IS, OOS $/day


@dataclass(slots=True)
class OptimizeResult:
    """Every stage run (all folds unless stopped) and whether Ctrl+C stopped it."""

    request: Request
    span: tuple[int, int]
    stages: list[StageResult]
    interrupted: bool = False
    failed_workers: int = 0

    def best_config(self) -> BotConfig | None:
        """The settings to write: the last stage's best feasible ones (the most recent data)."""
        for st in reversed(self.stages):
            if st.best_params is not None:
                return apply_params(self.request.base, st.best_params)
        return None


def _stages(req: Request, span: tuple[int, int]) -> list[tuple[str, Job, Fold | None]]:
    """The studies to run: their labels, jobs and folds."""
    job = Job(
        req.storage_url,
        req.study,
        req.base,
        req.space,
        req.rules,
        span[0],
        span[1],
        req.trials,
        req.seed,
        req.prune,
    )
    if req.walk_forward <= 0:
        return [("whole period", job, None)]
    k = req.walk_forward
    return [
        (
            f"fold {f.index}/{k}",
            replace(
                job,
                study_name=f"{req.study}-wf{k}-fold{f.index}",
                ts_from=f.train_from,
                ts_to=f.test_from,
            ),
            f,
        )
        for f in plan_folds(span[0], span[1], k)
    ]


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best complete trial that met the rules, if any."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("feasible")
    ]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def _top_out_of_sample(
    req: Request, data: Mapping[str, CandleArrays], fold: Fold, study: optuna.Study
) -> list[tuple[int, float, float]]:
    """The fold's best TOP feasible trials: in-sample vs out-of-sample net $/day."""
    done = [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("feasible")
    ]
    done.sort(key=lambda t: -(t.value or 0.0))
    test = Evaluator(data, fold.test_from, fold.test_to)
    out = []
    for t in done[:TOP]:
        oos, _ = test.score(apply_params(req.base, dict(t.params)), req.rules)
        out.append((t.number, float(t.user_attrs["net_per_day"]), oos.net_per_day))
    return out


def run_optimize(
    req: Request, data: Mapping[str, CandleArrays], progress: ProgressFactory | None = None
) -> OptimizeResult:
    """Run every stage's study with ``req.jobs`` workers, then test each fold's best unseen."""
    span = data_span(data)
    plan = _stages(req, span)
    storage = check_storage(req.storage_url)
    for _, job, _ in plan:
        open_study(job, storage)
    result = OptimizeResult(req, span, [])
    for label, job, fold in plan:
        outcome = run_workers(
            job, data, req.jobs, storage, progress(label) if progress is not None else None
        )
        study = optuna.load_study(study_name=job.study_name, storage=storage)
        st = StageResult(label, job, fold, outcome, trials=study.get_trials(deepcopy=False))
        result.stages.append(st)
        result.failed_workers += outcome.failed_workers
        best = _best(study)
        if best is not None:
            st.best_params, st.best_value = dict(best.params), best.value
            cfg = apply_params(req.base, st.best_params)
            st.in_sample, _ = Evaluator(data, job.ts_from, job.ts_to).score(cfg, req.rules)
            if fold is not None:
                oos, run = Evaluator(data, fold.test_from, fold.test_to).score(cfg, req.rules)
                st.out_sample, st.oos_curve = oos, run.equity_curve
                st.top = _top_out_of_sample(req, data, fold, study)
        if outcome.interrupted or outcome.failed_workers:
            result.interrupted = outcome.interrupted
            break
    return result
