"""The ``optiflow`` command line: thin presenters over the app layer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from optiflow import __version__
from optiflow.config.presets import find_config
from optiflow.interfaces.cli.data import data_app
from optiflow.interfaces.cli.errors import user_errors_exit_2
from optiflow.interfaces.cli.fleet import fleet_app

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="OptiFlow: crypto scalping bots — backtest, replay, paper, live.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_app, name="data")
app.add_typer(fleet_app, name="fleet")


def _print_version(value: bool) -> None:
    """``--version``: print the version and stop."""
    if value:
        print(f"optiflow {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """OptiFlow: crypto scalping bots — backtest, replay, paper, live."""


def _console() -> Console:
    """A console for reports: 140 columns when the output is not a terminal (files, pipes)."""
    return Console() if sys.stdout.isatty() else Console(width=140)


def _bundled_data() -> Path:
    """The candle folder shipped with the repository; a UserInputError naming --data if absent."""
    folder = Path(__file__).resolve().parents[4] / "data" / "binance_spot_1m"
    if not folder.is_dir():
        from optiflow.domain.errors import UserInputError

        raise UserInputError(
            f"no --data given and the bundled candle folder {folder} is not there (an installed "
            "package ships no market data): give --data DIR, a folder of BASE-QUOTE_1m.csv[.gz] "
            "files (optiflow data download writes them)"
        )
    return folder


@app.command()
@user_errors_exit_2
def backtest(
    configs: Annotated[
        list[str], typer.Argument(help="Config files or preset names (A, B, C...).")
    ],
    data: Annotated[
        Path | None, typer.Option(help="Folder of candle files (CSV or freqtrade JSON).")
    ] = None,
    when_from: Annotated[str | None, typer.Option("--from", help="Start, ISO 8601 UTC.")] = None,
    when_to: Annotated[
        str | None, typer.Option("--to", help="End (exclusive), ISO 8601 UTC.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write trades.csv, summary.json, report.html here.")
    ] = None,
    every_candle: Annotated[
        bool, typer.Option("--every-candle", help="Play every candle (slower; same results).")
    ] = False,
    ticks: Annotated[
        Path | None,
        typer.Option(
            help="Folder of Binance spot bookTicker/trades captures: candles they cover are "
            "played as real trades with real bid/ask."
        ),
    ] = None,
    entries_at_once: Annotated[
        bool,
        typer.Option(
            "--entries-at-once",
            help="Book an entry at once at the next open, as the live cycle does (the "
            "rehearsal's trades, exactly).",
        ),
    ] = False,
) -> None:
    """Backtest one or several bots on historical candles."""
    from optiflow.interfaces.cli.backtest import backtest_command

    backtest_command(
        configs,
        data or _bundled_data(),
        when_from,
        when_to,
        out,
        every_candle,
        _console(),
        ticks,
        entries_at_once=entries_at_once,
    )


@app.command()
@user_errors_exit_2
def optimize(
    config: Annotated[str, typer.Argument(help="Config file or preset name.")],
    data: Annotated[Path | None, typer.Option(help="Candle folder (default: bundled).")] = None,
    when_from: Annotated[str | None, typer.Option("--from", help="Start, ISO 8601 UTC.")] = None,
    when_to: Annotated[str | None, typer.Option("--to", help="End (exclusive), UTC.")] = None,
    trials: Annotated[int, typer.Option(help="Finished trials per study (per fold).")] = 100,
    jobs: Annotated[
        int | None, typer.Option(help="Worker processes here (default: the cores).")
    ] = None,
    walk_forward: Annotated[
        int, typer.Option("--walk-forward", help="K folds tested unseen (0: none).")
    ] = 0,
    objective: Annotated[
        str, typer.Option(help="net_per_day, sharpe or net_over_drawdown.")
    ] = "net_per_day",
    space: Annotated[Path | None, typer.Option(help="JSON file narrowing the space.")] = None,
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL (default: SQLite in --out).")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Study name (default: bot name).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    min_trades: Annotated[int, typer.Option(help="Fewer closed trades: rejected.")] = 20,
    max_drawdown: Annotated[float, typer.Option(help="Max drawdown %: above, rejected.")] = 25.0,
    seed: Annotated[int | None, typer.Option(help="Sampler seed (repeatable runs).")] = None,
    prune: Annotated[bool, typer.Option(help="Stop hopeless trials early.")] = True,
) -> None:
    """Search a bot's settings (Optuna), walk-forward tested; write the best config."""
    from optiflow.interfaces.cli.optimize import optimize_command

    code = optimize_command(
        config, data or _bundled_data(), when_from, when_to, trials, jobs, walk_forward,
        objective, space, storage, study, out, min_trades, max_drawdown, seed, prune, _console(),
    )  # fmt: skip
    raise typer.Exit(code)


@app.command("check-config")
@user_errors_exit_2
def check_config(
    config: Annotated[str, typer.Argument(help="Config file or preset name.")],
    secrets: Annotated[
        Path | None, typer.Option(help="Secrets file holding telegram_token (chmod 600).")
    ] = None,
) -> None:
    """Validate a config and show what each exit level is worth after fees."""
    from optiflow.interfaces.cli.check_config import check_config_command

    check_config_command(find_config(config), _console(), secrets)


@app.command()
@user_errors_exit_2
def run(
    config: Annotated[str, typer.Argument(help="Config file or preset name.")],
    mode: Annotated[
        str,
        typer.Option(
            help="replay or rehearsal (history at --speed; rehearsal runs the live runtime), "
            "paper or live."
        ),
    ] = "replay",
    data: Annotated[
        Path | None, typer.Option(help="Candle folder for replay (default: bundled).")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Replay speed: N x real time; 0 = as fast as possible.")
    ] = 3000.0,
    when_from: Annotated[
        str | None, typer.Option("--from", help="Replay start, ISO 8601 UTC.")
    ] = None,
    when_to: Annotated[str | None, typer.Option("--to", help="Replay end, ISO 8601 UTC.")] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="Database, state files and logs (default state/<bot>).")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Confirm real-money trading (with mode: live).")
    ] = False,
    secrets: Annotated[
        Path | None, typer.Option(help="JSON file with api_key and secret (chmod 600).")
    ] = None,
    websocket: Annotated[
        bool, typer.Option(help="Websocket prices where ccxt.pro has them (REST stays).")
    ] = True,
    accept_config_change: Annotated[
        bool,
        typer.Option(
            "--accept-config-change",
            help="Resume a replay whose config changed since its state was saved.",
        ),
    ] = False,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Delete the bot's state first (asks; --yes skips)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm --fresh without asking.")] = False,
    log_max_mb: Annotated[
        float, typer.Option("--log-max-mb", help="Total size of the bot's log files, MB.")
    ] = 50.0,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="Rehearsal faults: KIND@TIME[+Ns], seed=N, rate=F, kinds=K1/K2 (see README).",
        ),
    ] = None,
    telegram: Annotated[
        bool,
        typer.Option(help="Run the Telegram service in-process when telegram.enabled (alone)."),
    ] = True,
) -> None:
    """Run one bot through the live runtime; starting is recovering."""
    from optiflow.interfaces.cli.run import run_command

    raise typer.Exit(
        run_command(
            config,
            mode,
            data or (_bundled_data() if mode in ("replay", "rehearsal") else Path(".")),
            speed,
            when_from,
            when_to,
            state_dir,
            live,
            secrets,
            websocket=websocket,
            accept_config_change=accept_config_change,
            fresh=fresh,
            yes=yes,
            log_max_mb=log_max_mb,
            faults=faults,
            telegram=telegram,
        )
    )


@app.command("state")
@user_errors_exit_2
def state(
    action: Annotated[str, typer.Argument(help="show, reset or repair")],
    config: Annotated[str, typer.Argument(help="Config file or preset name.")],
    state_dir: Annotated[
        Path | None, typer.Option(help="State folder (default state/<bot>).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="reset: confirm without asking.")] = False,
) -> None:
    """A bot's stored state: ``show`` it, ``reset`` it (start over) or ``repair`` it."""
    from optiflow.interfaces.cli.state import state_repair, state_reset, state_show

    if action == "show":
        state_show(config, state_dir, _console())
    elif action == "reset":
        state_reset(config, state_dir, yes)
    elif action == "repair":
        state_repair(config, state_dir)
    else:
        from optiflow.domain.errors import UserInputError

        raise UserInputError(f"state {action!r}: unknown action; allowed: show, reset, repair")


@app.command()
@user_errors_exit_2
def deploy(
    target: Annotated[str, typer.Argument(help="systemd, supervisor, pm2 or docker.")],
    folder: Annotated[Path, typer.Argument(help="Fleet folder: bot configs + fleet.json.")],
    out: Annotated[Path, typer.Option(help="Folder to write the deployment files into.")],
    mode: Annotated[
        str | None, typer.Option(help="replay, paper or live (overrides fleet.json).")
    ] = None,
    state_root: Annotated[
        Path | None, typer.Option(help="Folder of the bots' state folders.")
    ] = None,
) -> None:
    """Write files that keep `optiflow fleet run DIR` alive under systemd, supervisord, pm2
    or Docker."""
    from optiflow.interfaces.cli.fleet import deploy_command

    deploy_command(target, folder, out, mode, state_root)


@app.command()
@user_errors_exit_2
def ask(
    bot: Annotated[str, typer.Argument(help="Config file or preset name (or 'all').")],
    text: Annotated[str, typer.Argument(help='The command, e.g. "/summary" or "/log 50".')],
    state_dir: Annotated[
        Path | None, typer.Option(help="The bot's state folder (default state/<bot>).")
    ] = None,
    state_root: Annotated[
        Path | None, typer.Option(help="Folder holding one state folder per bot.")
    ] = None,
) -> None:
    """Answer a Telegram command in the terminal (same text, no Telegram needed)."""
    from optiflow.interfaces.cli.ask import ask_command

    raise typer.Exit(ask_command(bot, text, state_dir, state_root))


@app.command("telegram")
@user_errors_exit_2
def telegram_service(
    state_root: Annotated[
        Path, typer.Option(help="Folder holding one state folder per bot (served together).")
    ],
    secrets: Annotated[
        Path | None, typer.Option(help="Secrets file holding telegram_token (chmod 600).")
    ] = None,
) -> None:
    """One Telegram service (one poller per token) for every bot under --state-root."""
    from optiflow.interfaces.cli.telegram_cmd import telegram_command

    raise typer.Exit(telegram_command(state_root, secrets))


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


if __name__ == "__main__":
    app()
