"""``optiflow optimize``: search a bot's settings with Optuna, walk-forward tested, and report."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from optiflow.config.advice import book_only_confirming
from optiflow.config.loader import load_config
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.interfaces.cli.paths import writable_folder
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.interfaces.report.optimize_files import (
    write_config,
    write_csv,
    write_html,
    write_json,
)
from optiflow.marketdata.loaders import load_folder
from optiflow.optimize.analysis import stability, verdict
from optiflow.optimize.driver import OptimizeResult, Request, run_optimize
from optiflow.optimize.folds import slice_data
from optiflow.optimize.scoring import OBJECTIVES, Rules
from optiflow.optimize.space import load_space
from optiflow.optimize.study import check_storage, default_storage, safe_url

_STUDY_RE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


def _check_numbers(trials: int, jobs: int, k: int, min_trades: int, max_dd: float) -> None:
    """Numeric options in range, else a UserInputError naming the option."""
    if trials < 1:
        raise UserInputError(f"--trials {trials}: must be at least 1")
    if jobs < 1:
        raise UserInputError(f"--jobs {jobs}: must be at least 1")
    if k < 0 or k == 1:
        raise UserInputError(f"--walk-forward {k}: 0 (no folds) or at least 2")
    if min_trades < 0:
        raise UserInputError(f"--min-trades {min_trades}: must be 0 or more")
    if not 0 < max_dd <= 100:
        raise UserInputError(f"--max-drawdown {max_dd:g}: a percent in (0, 100]")


def optimize_command(
    config: str,
    data: Path,
    when_from: str | None,
    when_to: str | None,
    trials: int,
    jobs: int | None,
    walk_forward: int,
    objective: str,
    space_file: Path | None,
    storage: str | None,
    study: str | None,
    out: Path | None,
    min_trades: int,
    max_drawdown: float,
    seed: int | None,
    prune: bool,
    console: Console,
) -> int:
    """Validate everything, run the studies with a progress bar, print the verdict, write files."""
    path = find_config(config)
    base = load_config(path)
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    _check_numbers(trials, workers, walk_forward, min_trades, max_drawdown)
    if objective not in OBJECTIVES:
        raise UserInputError(f"--objective {objective!r}: allowed: {', '.join(OBJECTIVES)}")
    problem = book_only_confirming(base)
    if problem:
        raise UserInputError(f"{path}: {problem}")
    name = study or base.name
    if not _STUDY_RE.fullmatch(name):
        raise UserInputError(f"--study {name!r}: 1 to 60 characters from A-Z a-z 0-9 _ . -")
    ts_from, ts_to = parse_when("--from", when_from), parse_when("--to", when_to)
    if ts_from is not None and ts_to is not None and ts_from >= ts_to:
        raise UserInputError(f"--from {when_from} must be before --to {when_to}")
    if not data.is_dir():
        raise UserInputError(f"--data {data}: not a folder of candle files")
    folder = out if out is not None else Path("out") / "optimize" / base.name
    writable_folder("--out", folder)
    space = load_space(base, space_file)
    rules = Rules(objective, min_trades, max_drawdown)
    url = storage or default_storage(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_storage(url).engine.dispose()
    candles = load_folder(data, base.pairs, ts_from, ts_to)
    start = max(int(a.ts[0]) for a in candles.values())
    end = min(int(a.ts[-1]) + a.timeframe_ms for a in candles.values())
    if end - start < 3_600_000:
        raise UserInputError(f"--data {data}: the pairs of {base.name} share less than an hour")
    candles = slice_data(candles, start, end)
    req = Request(base, space, rules, trials, workers, walk_forward, url, name, seed, prune)
    console.print(
        f"optimize {base.name}: {len(space)} parameters, {trials} trials"
        + (f" per fold x {walk_forward} folds" if walk_forward else "")
        + f", {workers} worker(s), study {name!r} in {safe_url(url)}"
    )
    result = _with_progress(console, lambda p: run_optimize(req, candles, p))
    if result.failed_workers:
        console.print(f"[red]{result.failed_workers} worker(s) failed; see the lines above[/red]")
    _print_result(console, result)
    written = [write_csv(folder, result), write_json(folder, result), write_html(folder, result)]
    best = result.best_config()
    if best is not None:
        written.insert(0, write_config(folder, best))
    console.print("wrote " + ", ".join(str(p) for p in written))
    if result.interrupted:
        console.print(
            "[yellow]stopped: every finished trial is saved; run the same command again to "
            "resume the study[/yellow]"
        )
        return 130
    return 1 if result.failed_workers else 0


Factory = Callable[[str], Callable[[int, int, float | None], None]]


def _with_progress(console: Console, run: Callable[[Factory], OptimizeResult]) -> OptimizeResult:
    """Run with a rich bar per stage: trials done, best so far, time left."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as bar:

        def factory(label: str) -> Callable[[int, int, float | None], None]:
            task = bar.add_task(label, total=None, best="-")

            def update(done: int, total: int, best: float | None) -> None:
                shown = "-" if best is None else f"{best:+.3f}"
                bar.update(task, completed=min(done, total), total=total, best=shown)

            return update

        return run(factory)


def _print_result(console: Console, result: OptimizeResult) -> None:
    """The folds table, the stability table and the verdict lines."""
    table = Table(title="in sample (optimised) vs out of sample (unseen), net of fees")
    for col in ("stage", "trials", "IS $/day", "IS trades", "IS win", "IS dd"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for col in ("OOS $/day", "OOS trades", "OOS win", "OOS dd"):
        table.add_column(col, justify="right")
    for st in result.stages:
        cells = []
        for s in (st.in_sample, st.out_sample):
            cells += (
                ["-"] * 4
                if s is None
                else [
                    f"{s.net_per_day:+.2f}",
                    str(s.trades),
                    f"{s.win_rate_pct:.1f} %",
                    f"{s.max_drawdown_pct:.1f} %",
                ]
            )
        table.add_row(st.label, str(len(st.trials)), *cells)
    console.print(table)
    if any(st.fold is not None for st in result.stages):
        stab = Table(title="parameter stability across folds (best value per fold)")
        for col in ("parameter", "per fold", "moves"):
            stab.add_column(col)
        for row in stability(result, result.request.space):
            stab.add_row(*row)
        console.print(stab)
    for line in verdict(result):
        style = "bold red" if "no setting" in line else "bold"
        console.print(f"[{style}]{line}[/{style}]")
