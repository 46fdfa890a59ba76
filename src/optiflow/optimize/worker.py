"""One trial (a backtest of sampled settings on in-sample candles) and the worker processes."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from pydantic import ValidationError

from optiflow.app.summary import summarize
from optiflow.config.models import BotConfig
from optiflow.domain.results import BotRun
from optiflow.marketdata.features import FeatureCache
from optiflow.marketdata.loaders import CandleArrays, resample, timeframe_to_ms
from optiflow.optimize.folds import guard_before, slice_data
from optiflow.optimize.scoring import Rules, Score, score
from optiflow.optimize.space import Space, apply_params, suggest
from optiflow.runtimes.backtest import run_backtest

DONE_STATES = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
PRUNE_PART = 3  # the pruning check backtests the first 1/PRUNE_PART of the in-sample period
MIN_PRUNE_MS = 3 * 86_400_000  # below this, trials are not split for pruning


@dataclass(frozen=True, slots=True)
class Job:
    """What a worker needs: the study, the base config, the space, the rules and the period."""

    storage_url: str
    study_name: str
    base: BotConfig
    space: Space
    rules: Rules
    ts_from: int
    ts_to: int  # exclusive: no candle at or after it may reach a trial
    n_trials: int  # finished (complete + pruned) trials the study should reach
    seed: int | None = None
    prune: bool = True


class Evaluator:
    """Backtests settings on one period; candles resampled once per timeframe and kept."""

    def __init__(self, data: Mapping[str, CandleArrays], ts_from: int, ts_to: int) -> None:
        """Slice ``data`` to [ts_from, ts_to) once; the slice never holds a later candle."""
        self.data = slice_data(data, ts_from, ts_to)
        self.ts_from, self.ts_to = ts_from, ts_to
        self.last_candle = guard_before(self.data, ts_to)
        self._by_tf: dict[tuple[int, int], dict[str, CandleArrays]] = {}
        self.features = FeatureCache()  # indicators per (candles, settings), shared by trials

    def candles(self, timeframe: str, until: int | None = None) -> dict[str, CandleArrays]:
        """The period's candles at ``timeframe`` (up to ``until`` if given), cached."""
        tf = timeframe_to_ms(timeframe)
        key = (tf, until or self.ts_to)
        if key not in self._by_tf:
            base = self.data if until is None else slice_data(self.data, self.ts_from, until)
            self._by_tf[key] = {
                s: (a if a.timeframe_ms == tf else resample(a, tf)) for s, a in base.items()
            }
        return self._by_tf[key]

    def run(self, cfg: BotConfig, until: int | None = None) -> BotRun:
        """Backtest ``cfg`` on the period (or its start up to ``until``)."""
        data = self.candles(cfg.timeframe, until)
        guard_before(data, self.ts_to)
        # shadow outcomes change no trade and no score: trials run without them (speed)
        cfg = cfg.model_copy(update={"shadows": cfg.shadows.model_copy(update={"enabled": False})})
        return run_backtest(cfg, {s: data[s] for s in cfg.pairs}, feature_cache=self.features)

    def score(self, cfg: BotConfig, rules: Rules, until: int | None = None) -> tuple[Score, BotRun]:
        """The run of ``cfg`` and its score."""
        run = self.run(cfg, until)
        return score(summarize(run), rules), run


def objective(job: Job, ev: Evaluator, trial: optuna.Trial) -> float:
    """Sample settings, prune invalid or hopeless ones, else backtest and score them."""
    params = suggest(trial, job.space)
    trial.set_user_attr("worker", os.getpid())
    try:
        cfg = apply_params(job.base, params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        trial.set_user_attr("pruned", f"invalid config: {where}: {err['msg']}")
        raise optuna.TrialPruned() from None
    span = job.ts_to - job.ts_from
    if job.prune and span >= MIN_PRUNE_MS:
        early, _ = ev.score(cfg, job.rules, job.ts_from + span // PRUNE_PART)
        trial.report(early.value if early.feasible else min(early.net_per_day, 0.0) - 1e3, 0)
        if trial.should_prune():
            trial.set_user_attr("pruned", "hopeless on the first third of the period")
            raise optuna.TrialPruned()
    result, run = ev.score(cfg, job.rules)
    for key, value in result.attrs().items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("last_candle_ts", ev.last_candle)
    trial.set_user_attr("run_end_ts", run.ts_end)
    return result.value


def make_storage(url: str) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with a heartbeat (a killed worker's trial is failed, not stuck)."""
    quiet()
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 120}}
    else:
        kwargs = {"pool_pre_ping": True}
    return optuna.storages.RDBStorage(
        url, engine_kwargs=kwargs, heartbeat_interval=10, grace_period=30
    )


def quiet() -> None:
    """Optuna's info logging and experimental-feature warnings off (the CLI reports)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def finished(study: optuna.Study) -> int:
    """Complete plus pruned trials of a study."""
    return len(study.get_trials(deepcopy=False, states=DONE_STATES))


def load(job: Job, worker: int) -> optuna.Study:
    """The job's study with a TPE sampler (seeded per worker) and a median pruner."""
    seed = None if job.seed is None else job.seed + worker
    return optuna.load_study(
        study_name=job.study_name,
        storage=make_storage(job.storage_url),
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=10),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=8, n_warmup_steps=0),
    )


def _die_with_parent() -> None:
    """Linux: get SIGTERM (a clean stop) if the parent dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def work(job: Job, data: Mapping[str, CandleArrays], worker: int) -> None:
    """A worker process: run trials until the study has ``n_trials`` finished ones."""
    quiet()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    _die_with_parent()
    code = 0
    try:
        ev = Evaluator(data, job.ts_from, job.ts_to)
        study = load(job, worker)
        while finished(study) < job.n_trials:
            study.optimize(lambda t: objective(job, ev, t), n_trials=1)
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:  # reported by the parent, which names the worker
        print(f"optimize worker {worker}: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no inherited finalizers (the parent's database connections) run here
