"""Studies in Optuna storage: open or resume one, run worker processes on it, read it back."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import optuna

from optiflow.config.loader import config_hash
from optiflow.domain.errors import UserInputError
from optiflow.marketdata.loaders import CandleArrays
from optiflow.optimize.scoring import INFEASIBLE
from optiflow.optimize.space import space_text
from optiflow.optimize.worker import DONE_STATES, Job, make_storage, work

Progress = Callable[[int, int, float | None], None]  # done, total, best value so far
SCHEMES = ("sqlite", "postgresql", "mysql")


def safe_url(url: str) -> str:
    """A storage URL with any password masked (for messages)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable storage URL>"


def default_storage(out: Path) -> str:
    """The default storage: an SQLite file ``optuna.db`` in the --out folder."""
    return f"sqlite:///{(out / 'optuna.db').resolve()}"


def check_storage(url: str) -> optuna.storages.RDBStorage:
    """Open a storage URL; a UserInputError (password masked) if it is not one we can use."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise UserInputError(
            f"--storage {safe_url(url) if '://' in url else url!r}: not a storage URL; "
            "allowed: sqlite:///PATH, postgresql://USER:PASSWORD@HOST:PORT/DB, mysql://..."
        )
    for attempt in range(4):  # hosts starting together race to create the tables: retry
        try:
            return make_storage(url)
        except Exception as exc:
            text = str(exc).lower()
            if attempt < 3 and "connect" not in text and "import" not in text:
                time.sleep(0.5 + attempt)
                continue
            _unusable(url, exc)
    raise AssertionError("unreachable")


def _unusable(url: str, exc: Exception) -> NoReturn:
    """Raise the UserInputError for a storage that cannot be opened (password masked)."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "@" in url:
        reason = reason.replace(url, safe_url(url))
    raise UserInputError(f"--storage {safe_url(url)}: cannot open: {reason}") from None


def fingerprint(job: Job) -> str:
    """What must not change between runs of one study: config, space, rules, period."""
    text = json.dumps(
        {
            "config": config_hash(job.base),
            "space": space_text(job.space),
            "rules": [job.rules.objective, job.rules.min_trades, job.rules.max_drawdown_pct],
            "period": [job.ts_from, job.ts_to],
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def open_study(job: Job, storage: optuna.storages.RDBStorage) -> optuna.Study:
    """Create the study or resume it; a UserInputError if it was started with other settings."""
    study = optuna.create_study(
        study_name=job.study_name, storage=storage, direction="maximize", load_if_exists=True
    )
    mark = fingerprint(job)
    old = study.user_attrs.get("fingerprint")
    if old is None:
        study.set_user_attr("fingerprint", mark)
    elif old != mark:
        raise UserInputError(
            f"--study {job.study_name}: this study was started with another config, space, "
            "objective, limits or period; give another --study name (or another --storage) "
            "to start afresh"
        )
    return study


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a batch of workers ended."""

    interrupted: bool
    failed_workers: int
    seconds: float
    trials_run: int  # finished trials added by this run


def progress_of(study: optuna.Study) -> tuple[int, float | None]:
    """(finished trials, best feasible value) of a study."""
    trials = study.get_trials(deepcopy=False, states=DONE_STATES)
    values = [t.value for t in trials if t.value is not None and t.value > INFEASIBLE]
    return len(trials), (max(values) if values else None)


def run_workers(
    job: Job,
    data: Mapping[str, CandleArrays],
    jobs: int,
    storage: optuna.storages.RDBStorage,
    progress: Progress | None = None,
) -> RunOutcome:
    """Run ``jobs`` worker processes on the study until it has ``job.n_trials`` finished trials.

    Ctrl+C (SIGINT) or SIGTERM stops the workers; finished trials stay in the storage, so the
    same command resumes. Workers are forked, so the loaded candles are shared, not reloaded.
    """
    study = optuna.load_study(study_name=job.study_name, storage=storage)
    start_done, best = progress_of(study)
    if progress is not None:
        progress(start_done, job.n_trials, best)
    if start_done >= job.n_trials:
        return RunOutcome(False, 0, 0.0, 0)
    storage.engine.dispose()  # no open connection is inherited by the workers
    ctx = mp.get_context("fork")
    t0 = time.monotonic()
    procs = [ctx.Process(target=work, args=(job, data, w), daemon=False) for w in range(jobs)]
    for p in procs:
        p.start()
    interrupted = False
    old_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            if progress is not None:
                done, best = progress_of(study)
                progress(done, job.n_trials, best)
    except KeyboardInterrupt:
        interrupted = True
        _stop(procs)
    finally:
        signal.signal(signal.SIGTERM, old_term)
    done, best = progress_of(study)
    if progress is not None:
        progress(done, job.n_trials, best)
    failed = sum(1 for p in procs if p.exitcode not in (0, 130, -signal.SIGINT))
    interrupted = interrupted or any(p.exitcode in (130, -signal.SIGINT) for p in procs)
    return RunOutcome(interrupted, failed, time.monotonic() - t0, done - start_done)


def _stop(procs: Sequence[mp.process.BaseProcess]) -> None:
    """Ask every worker to stop (SIGINT), wait, then kill any that does not."""
    for p in procs:
        if p.is_alive() and p.pid is not None:
            os.kill(p.pid, signal.SIGINT)
    deadline = time.monotonic() + 20
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()
