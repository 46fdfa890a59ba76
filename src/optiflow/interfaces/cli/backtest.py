"""``optiflow backtest``: one or several bot configs on a folder of candle files."""

from __future__ import annotations

import time
from decimal import ROUND_UP, Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from optiflow.app.summary import summarize, summarize_fleet
from optiflow.config.advice import book_only_confirming, config_warnings
from optiflow.config.loader import load_config
from optiflow.config.markets import market_limits
from optiflow.config.models import BotConfig
from optiflow.config.presets import find_config
from optiflow.domain.errors import UserInputError
from optiflow.domain.results import BotRun
from optiflow.engine.bot import Bot
from optiflow.engine.settings import settings_from_config
from optiflow.interfaces.cli.paths import writable_folder
from optiflow.interfaces.cli.timeparse import parse_when
from optiflow.interfaces.report.console import print_run_report
from optiflow.interfaces.report.files import write_outputs
from optiflow.marketdata.candles import CandleArrays
from optiflow.marketdata.loaders import load_folder
from optiflow.marketdata.ticks import TickData, load_tick_folder
from optiflow.runtimes.backtest import run_backtest


def min_order_usdt(cfg: BotConfig) -> Decimal:
    """Cash the smallest order on the cheapest pair needs (floor plus the engine's fee buffer)."""
    limits = {p: market_limits(cfg, p) for p in cfg.pairs}
    bot = Bot(settings_from_config(cfg), limits)
    need = min(bot.order_floor(p) for p in cfg.pairs) * (1 + bot.entry_cost_rate)
    return need.quantize(Decimal("0.01"), rounding=ROUND_UP)


def covered_candles(candles: CandleArrays, tick: TickData) -> int:
    """How many of the symbol's candles lie wholly inside a tick capture span."""
    ts, n = candles.ts, 0
    for lo, hi in tick.spans:
        a = int(np.searchsorted(ts, lo, side="left"))
        b = int(np.searchsorted(ts, hi - candles.timeframe_ms + 1, side="right"))
        n += max(0, b - a)
    return n


def backtest_command(
    configs: list[str],
    data: Path,
    when_from: str | None,
    when_to: str | None,
    out: Path | None,
    every_candle: bool,
    console: Console,
    ticks: Path | None = None,
    entries_at_once: bool = False,
) -> list[BotRun]:
    """Load configs and data (and tick captures), run each bot, print the report, write."""
    cfgs = [load_config(find_config(c)) for c in configs]
    names = [c.name for c in cfgs]
    if len(set(names)) != len(names):
        raise UserInputError(f"two configs share a bot name: {', '.join(names)}")
    ts_from, ts_to = parse_when("--from", when_from), parse_when("--to", when_to)
    if ts_from is not None and ts_to is not None and ts_from >= ts_to:
        raise UserInputError(f"--from {when_from} must be before --to {when_to}")
    if not data.is_dir():
        raise UserInputError(f"--data {data}: not a folder of candle files")
    if out is not None:
        writable_folder("--out", out)
    for path, cfg in zip(configs, cfgs, strict=True):
        problem = book_only_confirming(cfg) if ticks is None else None
        if problem:
            raise UserInputError(f"{find_config(path)}: {problem}")
    symbols = sorted({p for c in cfgs for p in c.pairs})
    candles = load_folder(data, symbols, ts_from, ts_to)
    tick_data = None
    if ticks is not None:
        if not ticks.is_dir():
            raise UserInputError(f"--ticks {ticks}: not a folder of tick files")
        tick_data = load_tick_folder(ticks, symbols)
        if not tick_data:
            raise UserInputError(f"--ticks {ticks}: no tick files for {', '.join(symbols)}")
        for sym, tick in tick_data.items():
            covered = covered_candles(candles[sym], tick)
            use = (
                f"{covered} covered candles use them (every-candle feed)"
                if covered
                else "[bold yellow]unused[/bold yellow]: no candle of the backtest lies inside "
                "their capture time"
            )
            console.print(
                f"ticks {sym}: {len(tick.trades.ts)} trades, {len(tick.book.ts)} book updates, "
                f"{len(tick.spans)} capture(s); {use}"
            )
    warnings = {c.name: config_warnings(c, "backtest") for c in cfgs}
    for name, texts in warnings.items():
        for text in texts:
            console.print(f"[bold yellow]WARNING[/bold yellow] {name}: {text}")
    runs: list[BotRun] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        for cfg in cfgs:
            task = bar.add_task(f"backtest {cfg.name}", total=1)

            def progress(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            t0 = time.perf_counter()
            run = run_backtest(
                cfg,
                candles,
                fast=not every_candle,
                progress=progress,
                ticks=tick_data,
                entries_at_once=entries_at_once,
            )
            run.extra["engine_seconds"] = round(time.perf_counter() - t0, 4)
            run.extra["warnings"] = warnings[cfg.name]
            run.extra["min_order_usdt"] = str(min_order_usdt(cfg))
            bar.update(task, completed=1, total=1)
            runs.append(run)
    summaries = [summarize(r) for r in runs]
    fleet = summarize_fleet(runs) if len(runs) > 1 else None
    print_run_report(console, summaries, fleet)
    if out is not None:
        written = write_outputs(out, runs, summaries, fleet, candles)
        console.print("wrote " + ", ".join(str(p) for p in written))
    return runs
